"""Split long texts into chat-sized messages (Telegram and WhatsApp both stop at 4,096 chars)."""

from __future__ import annotations

from bot.markup import TOKEN
from bot.models import MAX_MESSAGE_CHARS

_SEPARATORS = ("\n\n", "\n", " ")


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split `text` into parts of at most `limit` characters, preferring paragraph boundaries.

    Paragraphs (blank-line separated) are packed greedily; a paragraph longer than the limit is
    split on line breaks, then on spaces, and only as a last resort inside a word. No
    non-whitespace character is lost or reordered; whitespace-only parts are dropped.

    Returns:
        At least one part (an empty text gives `[""]`).
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text]
    return _split(text, limit, 0)


def _split(text: str, limit: int, level: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    if level == len(_SEPARATORS):
        return [text[i:i + limit] for i in range(0, len(text), limit)]
    separator = _SEPARATORS[level]
    parts: list[str] = []
    current = ""
    for piece in text.split(separator):
        pieces = [piece] if len(piece) <= limit else _split(piece, limit, level + 1)
        for small in pieces:
            candidate = f"{current}{separator}{small}" if current else small
            if current and len(candidate) > limit:
                parts.append(current)
                current = small
            else:
                current = candidate
    if current or not parts:
        parts.append(current)
    return [p for p in parts if p.strip()] or [text[:limit]]


def split_markup(markup: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split markup (bot/markup.py) like `split_message`, never inside a tag or an entity.

    A part ends where a paragraph, then a line, then a word ends, else between two tokens; a
    tag still open at the cut is closed at the end of the part and opened again at the start
    of the next, so every part is valid markup on its own. Lengths count the markup itself,
    which is never less than what the chat shows.
    """
    parts: list[str] = []
    rest = markup
    while len(rest) > limit:
        cut, stack = _cut(rest, limit)
        closing = "".join(f"</{name}>" for name, _ in reversed(stack))
        head = rest[:cut].rstrip() + closing
        if _visible(head).strip():
            parts.append(head)
        rest = "".join(tag for _, tag in stack) + rest[cut:].lstrip()
    if _visible(rest).strip() or not parts:
        parts.append(rest)
    return parts


def _cut(markup: str, limit: int) -> tuple[int, list[tuple[str, str]]]:
    """Where to end the next part, and the tags open there (name, opening tag).

    The latest cut of the best separator that keeps the part at least a third full; a part
    always carries more than the tags re-opened at its start.
    """
    stack: list[tuple[str, str]] = []
    best: dict[int, tuple[int, list[tuple[str, str]]]] = {}  # separator level -> latest cut
    tokens = {m.start(): m for m in TOKEN.finditer(markup)}
    prefix = 0  # the tags re-opened at the start
    while prefix in tokens and tokens[prefix]["name"] and not tokens[prefix]["close"]:
        prefix = tokens[prefix].end()
    at = 0
    while at < len(markup):
        if at + sum(len(name) + 3 for name, _ in stack) > limit:
            break
        if at > prefix:
            level = next((n for n, sep in enumerate(_SEPARATORS) if markup.startswith(sep, at)),
                         len(_SEPARATORS))
            best[level] = (at, list(stack))
        match = tokens.get(at)
        if match is None:
            at += 1
            continue
        if match["name"]:
            name = match["name"].lower()
            if not match["close"]:
                stack.append((name, match[0]))
            elif stack and stack[-1][0] == name:
                stack.pop()
        at = match.end()
    if not best:
        raise ValueError(f"limit {limit} too small for the markup's tags")
    full_enough = [best[level] for level in sorted(best) if best[level][0] >= limit // 3]
    return full_enough[0] if full_enough else best[max(best, key=lambda lv: best[lv][0])]


def _visible(markup: str) -> str:
    return TOKEN.sub(lambda m: "" if m["name"] else m[0], markup)
