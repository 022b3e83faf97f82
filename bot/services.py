"""The composition object every channel works with, and the use cases channels share.

`Services` bundles settings, the knowledge base, the dialogue, the store, the flood guard and the
clock. Its methods are the channel-independent use cases behind the commands (ask a question,
pledge, subscribe, forget me …): each reads the clock once, calls the core and returns what to
say, so a Telegram or WhatsApp handler stays a thin adapter and tests need no transport.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot import replies
from bot.broadcasts import utc_now
from bot.config import Settings
from bot.dialogue import Context, Dialogue
from bot.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from bot.models import Region, Reply, ReplyKind
from bot.store import Store
from bot.throttle import Decision, Throttle

if TYPE_CHECKING:
    from bot.admin import Admin
    from bot.scheduler import Scheduler

Clock = Callable[[], dt.datetime]

REPORT_INTENT = "cara_lapor"
REPORT_TOPIC = "lapor"
ALL_REGIONS = "all"  # the "Seluruh Indonesia" choice; stored as region None

_COUNTERS = {
    ReplyKind.ANSWER: "answers",
    ReplyKind.CLARIFY: "clarify",
    ReplyKind.FALLBACK: "fallbacks",
    ReplyKind.SMALLTALK: "smalltalk",
}


@dataclass(slots=True)
class Services:
    """Everything a channel needs, built once by `build_services`.

    `dialogue` is an attribute on purpose: an admin reload swaps it while the bot runs; `kb`
    is derived from it, so the two can never disagree. `admin` and
    `scheduler` are attached by a channel that offers admin commands and broadcasts (the
    scheduler needs the channel's `Sender`); they stay None in the console.
    """

    settings: Settings
    dialogue: Dialogue
    store: Store
    throttle: Throttle
    clock: Clock = utc_now
    admin: Admin | None = None
    scheduler: Scheduler | None = None

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base in use (the dialogue's)."""
        return self.dialogue.kb

    # -- questions ------------------------------------------------------------------------
    def ask(self, text: str, context: Context | None = None) -> Reply:
        """Answer free text, count it, and log true misses (text only) for admins."""
        now = self.clock()
        reply = self.dialogue.answer(text, context)
        self.store.count("questions", now)
        self.store.count(_COUNTERS[reply.kind], now)
        if reply.kind is ReplyKind.FALLBACK and reply.intent is None and text.strip():
            self.store.record_miss(text, "fallback", None, now)
        return reply

    def check_flood(self, user_id: int) -> Decision:
        """Count one message from a user against the flood limit."""
        return self.throttle.check(user_id, self.clock())

    def feedback(self, chat_id: int, message_id: int, intent: str | None, useful: bool,
                 question: str | None) -> str:
        """Store 👍/👎 for an answer; a 👎 also logs the question for admins."""
        now = self.clock()
        self.store.record_feedback(chat_id, message_id, intent, useful, now)
        if useful:
            return replies.TG_FEEDBACK_THANKS
        self.store.record_miss(question or intent or "?", "thumbs_down", intent, now)
        return replies.TG_FEEDBACK_NOTED

    def none_of_these(self, question: str | None) -> Reply:
        """The 'Bukan semuanya' button: log the question as a miss and offer the topics."""
        if question:
            self.store.record_miss(question, "none_of_these", None, self.clock())
        return self.dialogue.none_of_these()

    # -- knowledge reload -------------------------------------------------------------------
    def prepare_knowledge(self) -> Callable[[], KnowledgeBase]:
        """Load, validate and index `settings.knowledge_dir`; return the step that installs it.

        This is the slow part (a few hundred ms): a channel may run it in a worker thread,
        since it touches nothing in use. The returned callable swaps the new knowledge base in
        (or raises the `KnowledgeError` found while loading, leaving the old one running); pass
        it to `Admin.reload_knowledge`.
        """
        try:
            kb = load_knowledge(self.settings.knowledge_dir)
        except KnowledgeError as exc:
            error = exc

            def refuse() -> KnowledgeBase:
                raise error

            return refuse
        dialogue = Dialogue(kb)
        return lambda: self.install_knowledge(dialogue)

    def install_knowledge(self, dialogue: Dialogue) -> KnowledgeBase:
        """Swap in a dialogue over a loaded knowledge base; the next question already uses it."""
        self.dialogue = dialogue
        return dialogue.kb

    def reload_knowledge(self) -> KnowledgeBase:
        """Load and install the knowledge base in one step (raises `KnowledgeError`)."""
        return self.prepare_knowledge()()

    # -- fixed replies ----------------------------------------------------------------------
    def report_reply(self) -> Reply:
        """How and where to report a violation (/lapor)."""
        return self._intent_or_topic(REPORT_INTENT, REPORT_TOPIC)

    def schedule_reply(self) -> Reply:
        """Upcoming election stages (/jadwal), from the calendar when the dialogue has one."""
        return self.dialogue.schedule(self.clock().astimezone(self.settings.timezone).date())

    def about_text(self) -> str:
        """Sources and the last review date (/tentang)."""
        kb = self.dialogue.kb
        reviewed = [i.reviewed for i in kb.intents.values() if i.reviewed]
        return replies.render_about(kb.sources.values(), max(reviewed, default=None))

    def _intent_or_topic(self, intent_id: str, topic_id: str) -> Reply:
        kb = self.dialogue.kb
        if intent_id in kb.intents:
            return self.dialogue.answer_intent(intent_id)
        in_topic = kb.intents_in_topic(topic_id)
        if in_topic:
            return self.dialogue.reply_for(in_topic[0])
        return self.dialogue.topic_menu()

    # -- pledge, subscription, privacy --------------------------------------------------------
    def pledge(self, user_id: int) -> str:
        """Record a digital pledge once; say when it was recorded."""
        created, at = self.store.record_pledge(user_id, self.clock())
        when = replies.format_local_time(dt.datetime.fromisoformat(at), self.settings.timezone)
        return (replies.TG_PLEDGE_RECORDED if created else replies.TG_PLEDGE_ALREADY).format(
            when=when)

    def regions(self) -> list[Region]:
        """The regions a subscriber can choose, in file order."""
        return list(self.dialogue.kb.regions.values())

    def subscribe(self, chat_id: int, region_id: str) -> str:
        """Subscribe a chat to reminders for a region id or `ALL_REGIONS`."""
        if region_id == ALL_REGIONS:
            self.store.subscribe(chat_id, None, self.clock())
            return replies.TG_SUBSCRIBED.format(region=replies.TG_ALL_REGIONS_NAME)
        region = self.dialogue.kb.regions.get(region_id)
        if region is None:
            return replies.TG_UNKNOWN_REGION
        self.store.subscribe(chat_id, region.id, self.clock())
        return replies.TG_SUBSCRIBED.format(region=region.name)

    def unsubscribe(self, chat_id: int) -> str:
        """Stop reminders for a chat (without creating a record for unknown chats)."""
        if self.store.chat(chat_id) is None:
            return replies.TG_NOT_SUBSCRIBED
        was = self.store.unsubscribe(chat_id, self.clock())
        return replies.TG_UNSUBSCRIBED if was else replies.TG_NOT_SUBSCRIBED

    def membership_changed(self, chat_id: int, active: bool) -> None:
        """Record that a chat blocked (inactive) or unblocked the bot.

        Only chats we already know are updated: someone who merely opened the bot is not
        stored, and a blocked chat that we know nothing about needs no record.
        """
        if self.store.chat(chat_id) is not None:
            self.store.set_blocked(chat_id, not active, self.clock())

    def forget(self, chat_id: int) -> str:
        """Delete everything stored about a chat (/hapusdata)."""
        self.store.delete_chat(chat_id)
        return replies.TG_DELETED


def build_services(settings: Settings, kb: KnowledgeBase, clock: Clock | None = None,
                   store: Store | None = None, dialogue: Dialogue | None = None) -> Services:
    """Wire the core together for a channel: dialogue, store on `settings.db_path`, flood guard.

    `store` and `dialogue` may be passed in to share them (tests reuse one dialogue over the
    same knowledge base); by default they are built here.
    """
    return Services(
        settings=settings, dialogue=dialogue or Dialogue(kb),
        store=store or Store(settings.db_path), clock=clock or utc_now,
        throttle=Throttle(settings.flood_limit_per_minute),
    )
