"""Inline keyboards: the core's typed button actions as Telegram callback data, and back.

Callback data is `<code>[:<arg>]`, kept within Telegram's 64 bytes (the wire format of earlier
versions, so buttons already in chats keep working):

    a:<intent>   m:<intent>[:c<n>]   t:<topic>   ts   n   f:1:<intent> / f:0:<intent>
    r:<region | all>   p   d:y / d:n    adm:ok:<token> / adm:no:<token>
    adm:m:<question number>   adm:l:<question number>:<intent | luar | abaikan>
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.models import Action, ActionKind, Choice, Reply
from bot.services import feedback_buttons

MAX_CALLBACK_BYTES = 64
CB_ANSWER = "a"
CB_MORE = "m"
CB_TOPIC = "t"
CB_TOPICS = "ts"
CB_NONE = "n"
CB_FEEDBACK = "f"
CB_REGION = "r"
CB_PLEDGE = "p"
CB_DELETE = "d"
CB_ADMIN = "adm"

_ENCODE: dict[ActionKind, tuple[str, ...]] = {
    ActionKind.ANSWER: (CB_ANSWER,),
    ActionKind.MORE: (CB_MORE,),
    ActionKind.TOPIC: (CB_TOPIC,),
    ActionKind.TOPICS: (CB_TOPICS,),
    ActionKind.NONE_OF_THESE: (CB_NONE,),
    ActionKind.FEEDBACK_UP: (CB_FEEDBACK, "1"),
    ActionKind.FEEDBACK_DOWN: (CB_FEEDBACK, "0"),
    ActionKind.REGION: (CB_REGION,),
    ActionKind.PLEDGE: (CB_PLEDGE,),
    ActionKind.DELETE_YES: (CB_DELETE, "y"),
    ActionKind.DELETE_NO: (CB_DELETE, "n"),
    ActionKind.ADMIN_CONFIRM: (CB_ADMIN, "ok"),
    ActionKind.ADMIN_DISCARD: (CB_ADMIN, "no"),
    ActionKind.ADMIN_MISS: (CB_ADMIN, "m"),
    ActionKind.ADMIN_LEARN: (CB_ADMIN, "l"),
}
_DECODE = {":".join(parts): kind for kind, parts in _ENCODE.items()}
_TAKES_ARG = frozenset({ActionKind.ANSWER, ActionKind.MORE, ActionKind.TOPIC,
                        ActionKind.FEEDBACK_UP, ActionKind.FEEDBACK_DOWN, ActionKind.REGION,
                        ActionKind.ADMIN_CONFIRM, ActionKind.ADMIN_DISCARD,
                        ActionKind.ADMIN_MISS, ActionKind.ADMIN_LEARN})
# Buttons of one of these groups share rows two by two; any other button has a row of its own.
_GROUPS = {ActionKind.TOPIC: "topic", ActionKind.TOPICS: "topic",
           ActionKind.REGION: "region",
           ActionKind.FEEDBACK_UP: "feedback", ActionKind.FEEDBACK_DOWN: "feedback",
           ActionKind.DELETE_YES: "delete", ActionKind.DELETE_NO: "delete",
           ActionKind.ADMIN_CONFIRM: "admin", ActionKind.ADMIN_DISCARD: "admin",
           ActionKind.ADMIN_MISS: "admin"}


def callback_data(*parts: str) -> str:
    """Join callback parts with ':' and enforce Telegram's 64-byte limit.

    Raises:
        ValueError: If the encoded data is longer than `MAX_CALLBACK_BYTES`.
    """
    data = ":".join(parts)
    if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data longer than {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def encode(action: Action) -> str:
    """An action as callback data."""
    parts = _ENCODE[action.kind]
    return callback_data(*parts, action.arg) if action.kind in _TAKES_ARG else callback_data(*parts)


def decode(data: str | None) -> Action | None:
    """Callback data back to its action; None for data this version does not know."""
    text = data or ""
    for size in (2, 1):  # "f:1:<intent>" before "a:<intent>"
        head = ":".join(text.split(":")[:size])
        kind = _DECODE.get(head)
        if kind is None:
            continue
        arg = text[len(head) + 1:] if len(text) > len(head) else ""
        if (kind in _TAKES_ARG) == bool(arg):
            return Action(kind, arg)
    return None


def button(choice: Choice) -> InlineKeyboardButton:
    """One inline button."""
    return InlineKeyboardButton(choice.label, callback_data=encode(choice.action))


def _pairs(buttons: Sequence[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i:i + 2]) for i in range(0, len(buttons), 2)]


def markup(buttons: Sequence[Choice]) -> InlineKeyboardMarkup | None:
    """Render buttons in order: a question per row, grouped buttons (topics …) two per row."""
    rows: list[list[InlineKeyboardButton]] = []
    run: list[InlineKeyboardButton] = []
    group = None
    for choice in buttons:
        current = _GROUPS.get(choice.action.kind)
        if current != group or current is None:
            rows += _pairs(run)
            run, group = [], current
        run.append(button(choice))
    rows += _pairs(run)
    return InlineKeyboardMarkup(rows) if rows else None


def reply_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    """Render the buttons a reply shows, then 👍/👎 under an answer; topics come two per row."""
    buttons = reply.shown().buttons
    topics = [c for c in buttons if c.action.kind in (ActionKind.TOPIC, ActionKind.TOPICS)]
    questions = [c for c in buttons if c not in topics]
    return markup([*questions, *topics, *feedback_buttons(reply)])


def without(keyboard: InlineKeyboardMarkup | None, code: str) -> InlineKeyboardMarkup | None:
    """The keyboard minus the rows of one kind of button (`CB_FEEDBACK` after 👍/👎 was
    pressed, `CB_MORE` once the whole answer shows)."""
    if keyboard is None:
        return None
    rows = [row for row in keyboard.inline_keyboard
            if not any(str(b.callback_data).startswith(code + ":") for b in row)]
    return InlineKeyboardMarkup(rows) if rows else None
