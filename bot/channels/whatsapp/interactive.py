"""Replies as WhatsApp messages: text split at the limit, reply buttons or list messages.

WhatsApp limits what an interactive message may carry: a body of 1,024 characters, at most three
reply buttons (titles up to 20 characters, ids up to 256), or one list of at most ten rows
(titles up to 24 characters, descriptions up to 72, ids up to 200). So a reply becomes:

* what it shows (a long answer's brief, see `Reply.shown`) in WhatsApp's formatting (*bold*),
  split at 4,096 characters, as plain messages — unless it is short enough to be the body of
  the interactive message;
* its buttons (and 👍/👎 under an answer): up to three short ones as reply buttons, otherwise
  lists of ten rows (a list per ten, e.g. the 38 provinces of /langganan).

Each button's id is its typed action, `<kind>:<arg>`, decoded back by `decode`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pywa_async.types import Button, Section, SectionList, SectionRow

from bot import replies
from bot.chunks import split_message
from bot.markup import from_spans, to_whatsapp
from bot.models import MAX_MESSAGE_CHARS, Action, ActionKind, Choice, Reply
from bot.services import feedback_buttons

MAX_BODY_CHARS = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_ROW_ID = 200
_KINDS = {kind.value: kind for kind in ActionKind}


def encode(action: Action) -> str:
    """A typed action as a button or row id: `<kind>:<arg>`."""
    data = f"{action.kind}:{action.arg}"
    if len(data) > MAX_ROW_ID:
        raise ValueError(f"button id longer than {MAX_ROW_ID} characters: {data[:40]!r}…")
    return data


def decode(data: str | None) -> Action | None:
    """A button or row id back to its action; None for ids this version does not know."""
    kind, sep, arg = (data or "").partition(":")
    if not sep or kind not in _KINDS:
        return None
    return Action(_KINDS[kind], arg)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: text, with reply buttons or a list (at most one of them)."""

    text: str
    buttons: tuple[Button, ...] | SectionList | None = None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _row(choice: Choice) -> SectionRow:
    title = _shorten(choice.label, MAX_ROW_TITLE)
    description = None if title == choice.label else _shorten(choice.label, MAX_ROW_DESCRIPTION)
    return SectionRow(title=title, callback_data=encode(choice.action), description=description)


def render(reply: Reply) -> list[Outgoing]:
    """The messages that show a reply, in sending order."""
    shown = reply.shown()
    text = to_whatsapp(from_spans(shown.text, shown.bold))
    choices = [*shown.buttons, *feedback_buttons(reply)]
    if not choices:
        return [Outgoing(part) for part in split_message(text, MAX_MESSAGE_CHARS)]
    messages: list[Outgoing] = []
    body = text
    if len(body) > MAX_BODY_CHARS:
        messages += [Outgoing(part) for part in split_message(body, MAX_MESSAGE_CHARS)]
        body = replies.WA_CHOOSE_PROMPT
    if len(choices) <= MAX_BUTTONS and all(len(c.label) <= MAX_BUTTON_TITLE for c in choices):
        buttons = tuple(Button(title=c.label, callback_data=encode(c.action)) for c in choices)
        return [*messages, Outgoing(body, buttons)]
    pages = [choices[i:i + MAX_ROWS] for i in range(0, len(choices), MAX_ROWS)]
    for n, page in enumerate(pages, start=1):
        text = body if n == 1 else replies.WA_MORE_CHOICES.format(page=n, pages=len(pages))
        if len(pages) > 1 and n == 1:
            text = f"{body}\n\n({n}/{len(pages)})"
        messages.append(Outgoing(text, _section_list(page)))
    return messages


def _section_list(page: Sequence[Choice]) -> SectionList:
    return SectionList(button_title=replies.WA_CHOOSE,
                       sections=[Section(title=replies.WA_OPTIONS, rows=[_row(c) for c in page])])
