"""Value types shared by the core and the channels: knowledge entries and replies."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

MAX_MESSAGE_CHARS = 4096


class Verdict(StrEnum):
    """The verdict an answer opens with."""

    BOLEH = "boleh"
    DILARANG = "dilarang"
    BERSYARAT = "bersyarat"
    INFO = "info"


class IntentKind(StrEnum):
    """What an intent is for: a ruling, chit-chat, or a polite out-of-scope redirect."""

    ANSWER = "answer"
    SMALLTALK = "smalltalk"
    REDIRECT = "redirect"


class ReplyKind(StrEnum):
    """The four reply kinds of the answer contract (see DESIGN.md)."""

    ANSWER = "answer"
    CLARIFY = "clarify"
    FALLBACK = "fallback"
    SMALLTALK = "smalltalk"
    NOTICE = "notice"  # not from the dialogue: a command's or an admin action's fixed reply


@dataclass(frozen=True, slots=True)
class Source:
    """A citable source: a seed article, a regulation, a decision or an official statement."""

    id: str
    kind: str
    title: str
    short: str
    publisher: str | None = None
    date: dt.date | None = None
    url: str | None = None
    note: str | None = None
    confidence: str | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    """An entry of the topic menu."""

    id: str
    title: str
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class Region:
    """A region subscribers choose and broadcasts target (province level)."""

    id: str
    name: str
    tz: str


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition of a permissive rule that the question itself may state as broken.

    `cues` are phrases matched as `bot.cues.Cues` does (in order, small gaps, not negated).
    A match turns the answer into `verdict` (stricter than the intent's) with `text` first.
    """

    cues: tuple[str, ...]
    verdict: Verdict
    text: str


@dataclass(frozen=True, slots=True)
class Milder:
    """A milder sibling of a prohibition, for a question that states what makes it milder.

    "foto bareng calon tapi tidak diposting" reads much like the prohibited photo with a
    candidate; with one of `cues` in the question (matched as conditions are) the sibling
    `intent` (bersyarat) answers instead, and its own conditions still apply.
    """

    cues: tuple[str, ...]
    intent: str


class Facet(StrEnum):
    """The part of a rule intent that answers a question type other than "may I?"."""

    WHY = "why"
    SANCTION = "sanction"
    BASIS = "basis"
    RULE = "rule"  # "kapan wajib …?", "berapa lama prosesnya?": the rule told as information


@dataclass(frozen=True, slots=True)
class QuestionType:
    """A kind of question about a rule ("kenapa …?", "sanksinya apa?", "lapornya ke mana?"),
    answered from the rule's `facet`, or by another intent (`intent`, e.g. how to report)."""

    id: str
    cues: tuple[str, ...]
    facet: Facet | None = None
    intent: str | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    """One question the bot knows how to answer, with its phrasings and its answer."""

    id: str
    title: str
    topic: str
    kind: IntentKind
    questions: tuple[str, ...]
    answer: str
    verdict: Verdict | None = None
    confidence: str = "C2"
    keywords: tuple[str, ...] = ()
    caution: str | None = None
    basis: tuple[str, ...] = ()
    sanction: str | None = None
    sources: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    reviewed: dt.date | None = None
    why: str | None = None
    conditions: tuple[Condition, ...] = ()
    milder: tuple[Milder, ...] = ()
    file: str = ""


@dataclass(frozen=True, slots=True)
class Pledge:
    """A variant of the neutrality pledge (ikrar netralitas)."""

    id: str
    title: str
    intro: str
    points: tuple[str, ...]
    closing: str
    sources: tuple[str, ...]


# -- Chats and buttons --------------------------------------------------------------------------
class Channel(StrEnum):
    """The transports a chat can live on."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True, order=True)
class ChatRef:
    """A chat, channel-neutral: its channel and the transport's own id, as text."""

    channel: Channel
    id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel", Channel(self.channel))
        object.__setattr__(self, "id", str(self.id))

    @classmethod
    def telegram(cls, chat_id: int | str) -> ChatRef:
        """A Telegram chat by its numeric id."""
        return cls(Channel.TELEGRAM, str(chat_id))

    @classmethod
    def whatsapp(cls, wa_id: str) -> ChatRef:
        """A WhatsApp user by the `wa_id` the Cloud API gives."""
        return cls(Channel.WHATSAPP, wa_id)

    def __str__(self) -> str:
        return f"{self.channel}:{self.id}"


class ActionKind(StrEnum):
    """What pressing a button asks for; each channel encodes it in its own way."""

    ANSWER = "answer"              # arg: intent id
    MORE = "more"                  # arg: intent id[:c<n>] (a broken condition): full answer
    TOPIC = "topic"                # arg: topic id
    TOPICS = "topics"              # "Semua topik": the topic menu
    NONE_OF_THESE = "none"         # "Bukan semuanya" under a clarification
    FEEDBACK_UP = "up"             # arg: intent id
    FEEDBACK_DOWN = "down"         # arg: intent id
    REGION = "region"              # arg: region id, or "all"
    PLEDGE = "pledge"              # "Saya berikrar"
    DELETE_YES = "delete_yes"      # confirm /hapusdata
    DELETE_NO = "delete_no"
    ADMIN_CONFIRM = "admin_ok"     # arg: draft token
    ADMIN_DISCARD = "admin_no"     # arg: draft token
    ADMIN_MISS = "admin_miss"      # arg: logged question number: its choices (/takterjawab)
    ADMIN_LEARN = "admin_learn"    # arg: <number>:<intent id | luar | abaikan> (as /ajarkan)


@dataclass(frozen=True, slots=True)
class Action:
    """A typed button action: a kind and at most one argument (an id or a token)."""

    kind: ActionKind
    arg: str = ""

    def legacy(self) -> str:
        """The action as the answer contract's JSON names it: the intent id, or a tag."""
        if self.kind is ActionKind.ANSWER:
            return self.arg
        return f"{self.kind}:{self.arg}" if self.arg else str(self.kind)


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: a label and the typed action it stands for.

    For convenience `Choice(label, "intent_id")` means a question button (an ANSWER action).
    """

    label: str
    action: Action

    def __post_init__(self) -> None:
        if isinstance(self.action, str):
            object.__setattr__(self, "action", Action(ActionKind.ANSWER, self.action))

    @property
    def intent(self) -> str | None:
        """The intent id of a question button, else None."""
        return self.action.arg if self.action.kind is ActionKind.ANSWER else None

    def to_json_dict(self) -> dict[str, str]:
        """The button as the answer contract's JSON shows it."""
        return {"label": self.label, "intent": self.action.legacy(),
                "action": str(self.action.kind)}


Span = tuple[int, int]  # [start, end) of a text, shown bold


@dataclass(frozen=True, slots=True)
class Shown:
    """What a chat shows of a reply: text with bold spans (see bot/markup.py), then buttons."""

    text: str
    bold: tuple[Span, ...] = ()
    buttons: tuple[Choice, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    """What the core decided to say; channels render it, they never decide it.

    `text` is the whole reply (what `main.py ask` prints and evaluation reads), `bold` its
    emphasised spans. A long answer also has a `brief`: what chats show first, the verdict and
    a few sentences, its buttons (a "Selengkapnya" MORE action) before the reply's own.
    """

    kind: ReplyKind
    text: str
    intent: str | None = None
    verdict: Verdict | None = None
    confidence: float = 0.0
    sources: tuple[str, ...] = ()
    alternatives: tuple[Choice, ...] = ()
    buttons: tuple[Choice, ...] = ()
    bold: tuple[Span, ...] = ()
    brief: Shown | None = None

    @classmethod
    def notice(cls, text: str, *buttons: Choice) -> Reply:
        """A fixed reply (a command's, a button's, an admin action's) with optional buttons."""
        return cls(kind=ReplyKind.NOTICE, text=text, buttons=buttons)

    def shown(self) -> Shown:
        """What a chat shows: the brief if there is one, else the whole text; then buttons."""
        if self.brief is None:
            return Shown(self.text, self.bold, self.buttons)
        return Shown(self.brief.text, self.brief.bold, (*self.brief.buttons, *self.buttons))

    def with_note(self, note: str) -> Reply:
        """The reply with `note` as a paragraph before its text (and its brief's)."""
        shift = len(note) + 2

        def noted(text: str, bold: tuple[Span, ...]) -> tuple[str, tuple[Span, ...]]:
            return (f"{note}\n\n{text}"[:MAX_MESSAGE_CHARS],
                    tuple((start + shift, end + shift) for start, end in bold))

        text, bold = noted(self.text, self.bold)
        brief = self.brief and Shown(*noted(self.brief.text, self.brief.bold),
                                     self.brief.buttons)
        return replace(self, text=text, bold=bold, brief=brief)

    def to_json_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict with the fields of the answer contract (not how it shows)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("bold", "brief")}
        data["kind"] = self.kind.value
        data["verdict"] = self.verdict.value if self.verdict else None
        data["confidence"] = round(self.confidence, 4)
        data["sources"] = list(self.sources)
        data["alternatives"] = [c.to_json_dict() for c in self.alternatives]
        data["buttons"] = [c.to_json_dict() for c in self.buttons]
        return data


# -- Broadcasts ---------------------------------------------------------------------------------
class BroadcastStatus(StrEnum):
    """Where a broadcast is in its life: scheduled → sending → done (or cancelled / missed)."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"
    MISSED = "missed"


class Origin(StrEnum):
    """Who created a broadcast."""

    ADMIN = "admin"
    CALENDAR = "calendar"


class DeliveryStatus(StrEnum):
    """One chat's copy of a broadcast: pending → sending → sent | failed | blocked."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"


# In an audience, None stands for "subscribers who chose no region" (all of Indonesia).
Audience = tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A message to subscribers at a time; `regions` None means every subscriber."""

    id: int
    text: str
    send_at: dt.datetime
    status: BroadcastStatus
    origin: Origin
    regions: Audience | None = None
    key: str | None = None
    created_by: ChatRef | None = None
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    notify_chat: ChatRef | None = None
    series: int | None = None
    sending_seconds: float = 0.0  # time spent sending so far, over every run (no downtime)


@dataclass(frozen=True, slots=True)
class CalendarBroadcast:
    """A reminder derived from the election calendar, keyed so it is stored only once."""

    key: str
    send_at: dt.datetime
    regions: Audience
    text: str


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """How far a broadcast got; `pending` includes the copies in flight."""

    sent: int = 0
    pending: int = 0
    failed: int = 0
    blocked: int = 0

    @property
    def total(self) -> int:
        """Every chat in the broadcast's audience."""
        return self.sent + self.pending + self.failed + self.blocked
