"""The small HTML subset messages are formatted in, and how each channel shows it.

Bot replies are plain text with bold spans (`Reply.bold`); `from_spans` turns them into this
markup with every character of knowledge-base and user text escaped. Admins write broadcasts in
it directly (`<b>`, `<i>`, `<u>`, `<s>`, `<a href="…">`, `<code>`), checked by `problem` at
preview after `normalize` has escaped a bare `&` or `<` that starts no tag. Telegram sends the
markup as is (`parse_mode` HTML); WhatsApp gets its own *bold*, _italic_, ~strike~ and
```code``` (`to_whatsapp`); the console and WhatsApp templates get plain text (`to_plain`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

TAGS = ("b", "i", "u", "s", "a", "code")
LINK_SCHEMES = ("http://", "https://", "tg://", "mailto:")
# A tag, an entity Telegram knows, or a bare '&' / '<' (not markup: to be escaped).
TOKEN = re.compile(r"<(?P<close>/?)(?P<name>[A-Za-z][\w-]*)(?P<attrs>[^<>]*)>"
                   r"|&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9A-Fa-f]{1,6});"
                   r"|[&<]")
_HREF = re.compile(r"""^\s+href\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')\s*$""")
_WHATSAPP = {"b": "*", "i": "_", "s": "~", "code": "```", "u": ""}


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with an admin's markup: `kind` and the tag it is about.

    Kinds: "unknown" (a tag outside `TAGS`), "attributes" (attributes on a tag other than
    <a>), "link" (an <a> without an http(s) href), "unclosed" (opened, never closed) and
    "unopened" (a closing tag that closes nothing open, or closes across another tag).
    """

    kind: str
    tag: str


def escape(text: str) -> str:
    """Plain text as markup: '&', '<' and '>' escaped (quotes too, for attribute values)."""
    return html.escape(text)


def from_spans(text: str, bold: Iterable[tuple[int, int]] = ()) -> str:
    """Plain text with bold (start, end) spans as markup; spans past the text are clipped.

    Whitespace at a span's edges stays outside the tag (WhatsApp needs *word* to touch).
    """
    out, at = [], 0
    for start, end in sorted(bold):
        start, end = max(start, at), min(end, len(text))
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        out += [escape(text[at:start]), "<b>", escape(text[start:end]), "</b>"]
        at = end
    out.append(escape(text[at:]))
    return "".join(out)


def normalize(markup: str) -> str:
    """Escape what is not markup: a bare '&' or a '<' that starts no tag ("usia < 30")."""
    return TOKEN.sub(lambda m: escape(m[0]) if m[0] in "&<" else m[0], markup)


def tags(markup: str) -> Iterator[tuple[re.Match[str], str, bool]]:
    """The tags of (normalized) markup in order: the match, the tag name, whether it closes."""
    for match in TOKEN.finditer(markup):
        if match["name"]:
            yield match, match["name"].lower(), bool(match["close"])


def problem(markup: str) -> Problem | None:
    """The first thing Telegram would refuse in (normalized) markup, or None if it is fine."""
    open_tags: list[str] = []
    for match, name, closing in tags(markup):
        if name not in TAGS:
            return Problem("unknown", name)
        if closing:
            if not open_tags or open_tags[-1] != name:
                return Problem("unopened", name)
            open_tags.pop()
            continue
        attrs = match["attrs"]
        if name == "a":
            href = _HREF.match(attrs)
            url = (href["dq"] if href["dq"] is not None else href["sq"]) if href else ""
            if not url.strip().lower().startswith(LINK_SCHEMES):
                return Problem("link", name)
        elif attrs.strip():
            return Problem("attributes", name)
        open_tags.append(name)
    return Problem("unclosed", open_tags[-1]) if open_tags else None


def to_plain(markup: str) -> str:
    """Markup as plain text: tags dropped (a link's address after its text), entities decoded."""
    return html.unescape(_rewrite(markup, {}))


def to_whatsapp(markup: str) -> str:
    """Markup in WhatsApp's formatting: *bold*, _italic_, ~strike~, ```code```."""
    return html.unescape(_rewrite(markup, _WHATSAPP))


def _rewrite(markup: str, marks: dict[str, str]) -> str:
    """Replace each tag by its mark (none when absent); a link becomes "text (address)"."""
    out: list[str] = []
    links: list[tuple[int, str]] = []  # where each open link's text starts, and its address
    at = 0
    for match, name, closing in tags(markup):
        out.append(markup[at:match.start()])
        at = match.end()
        if name != "a":
            out.append(marks.get(name, ""))
        elif not closing:
            href = _HREF.match(match["attrs"])
            links.append((len(out), (href["dq"] or href["sq"] or "") if href else ""))
        elif links:
            start, url = links.pop()
            if url and html.unescape("".join(out[start:])).strip() != html.unescape(url):
                out.append(f" ({url})")
    out.append(markup[at:])
    return "".join(out)
