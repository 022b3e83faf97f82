"""The composition object every channel works with, and the use cases channels share.

`build_services` builds the whole core from the settings, one `Sender` per running channel and
an optional notifier: dialogue, store, flood guard, the broadcast `Scheduler` and the `Admin`
use cases. No channel constructs a core object. `Services`' methods are the channel-independent
use cases behind the commands and buttons (ask a question, pledge, subscribe, forget me …):
each reads the clock once, calls the core and returns the `Reply` to show, so a Telegram or
WhatsApp handler stays a thin adapter and tests need no transport.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot import replies
from bot.admin import Admin
from bot.broadcasts import Notifier, Notify, Sender, Senders, utc_now
from bot.config import Settings
from bot.dialogue import Context, Dialogue
from bot.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from bot.models import Action, ActionKind, Channel, ChatRef, Choice, Region, Reply, ReplyKind
from bot.pace import Pace, channel_limits
from bot.scheduler import Scheduler, build_scheduler
from bot.store import Store
from bot.throttle import Decision, Throttle

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


def feedback_buttons(reply: Reply) -> tuple[Choice, ...]:
    """The 👍/👎 pair an answer accepts (none for other replies); channels show it their way."""
    if reply.kind is not ReplyKind.ANSWER or not reply.intent:
        return ()
    return (Choice(replies.TG_FEEDBACK_UP, Action(ActionKind.FEEDBACK_UP, reply.intent)),
            Choice(replies.TG_FEEDBACK_DOWN, Action(ActionKind.FEEDBACK_DOWN, reply.intent)))


@dataclass(slots=True)
class Services:
    """Everything a channel needs, built once by `build_services`.

    `pace` is the one pace every channel sends through (interactive replies included).
    `dialogue` is an attribute on purpose: an admin reload swaps it while the bot runs; `kb`
    is derived from it, so the two can never disagree. `scheduler` is None when no channel
    that can deliver broadcasts runs (the console).
    """

    settings: Settings
    dialogue: Dialogue
    store: Store
    throttle: Throttle
    admin: Admin
    pace: Pace
    clock: Clock = utc_now
    scheduler: Scheduler | None = None

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base in use (the dialogue's)."""
        return self.dialogue.kb

    # -- lifecycle (inside the running event loop) -------------------------------------------
    async def start(self) -> None:
        """Start broadcasting: resume, catch up and register timers."""
        if self.scheduler is not None:
            await self.scheduler.start()

    async def stop(self) -> None:
        """Let deliveries finish their in-flight messages (the rest resumes next start)."""
        if self.scheduler is not None:
            await self.scheduler.shutdown()

    def close(self) -> None:
        """Close the store (after `stop`)."""
        self.store.close()

    # -- questions ------------------------------------------------------------------------
    def ask(self, text: str, context: Context | None = None,
            asker: ChatRef | None = None) -> Reply:
        """Answer free text, count it, and log true misses for admins (erased by /hapusdata)."""
        now = self.clock()
        reply = self.dialogue.answer(text, context)
        self.store.count("questions", now)
        self.store.count(_COUNTERS[reply.kind], now)
        if reply.kind is ReplyKind.FALLBACK and reply.intent is None and text.strip():
            self.store.record_miss(text, "fallback", None, now, asker)
        return reply

    def check_flood(self, user: ChatRef, tap: bool = False) -> Decision:
        """Count one message (or, apart from messages, one button tap) against the flood limit."""
        return self.throttle.check((user, "tap") if tap else user, self.clock())

    def seen(self, chat: ChatRef) -> None:
        """A chat wrote to us: its WhatsApp 24-hour window is open from now."""
        self.store.record_inbound(chat, self.clock())

    def receipt(self, chat: ChatRef, message_id: str, status: str, error: str | None = None,
                blocked: bool = False) -> None:
        """A delivery receipt (sent, delivered, read, failed) for a message we sent.

        Receipts of broadcast messages update their delivery row; a failed one marks the
        delivery failed (or blocked, and the chat with it, when the user cannot be reached).
        Receipts of interactive replies match no row and are dropped.
        """
        self.store.record_receipt(chat, message_id, status, self.clock(), error, blocked)

    def undelivered(self, chat: ChatRef, message_id: str) -> str | None:
        """A broadcast message refused after it was sent (WhatsApp 131047: the 24-hour window
        had closed): its text, to send again as the template; the chat's window is closed."""
        return self.store.undelivered_text(chat, message_id)

    def redelivered(self, chat: ChatRef, old_message_id: str, message_id: str) -> None:
        """The refused broadcast message went out again under a new message id."""
        self.store.redelivered(chat, old_message_id, message_id, self.clock())

    def press(self, chat: ChatRef, action: Action, question: str | None = None,
              message_id: str = "") -> Reply:
        """Reply to a pressed button, whatever the channel (the one router of button actions).

        Args:
            chat: The private chat (whose id is the user's) the button was pressed in.
            question: The question the pressed message answered, if the channel remembers it
                (a 👎 and "Bukan semuanya" log it for admins).
            message_id: The transport's id of the message the button was under (feedback is
                stored once per answer).
        """
        kind = action.kind
        if kind is ActionKind.ANSWER:
            return self.dialogue.answer_intent(action.arg)
        if kind is ActionKind.MORE:
            return self.dialogue.more(action.arg)
        if kind is ActionKind.TOPIC:
            return self.dialogue.topic(action.arg)
        if kind is ActionKind.TOPICS:
            return self.dialogue.topic_menu()
        if kind is ActionKind.NONE_OF_THESE:
            return self.none_of_these(question, chat)
        if kind in (ActionKind.FEEDBACK_UP, ActionKind.FEEDBACK_DOWN):
            return self.feedback(chat, message_id, action, question)
        if kind is ActionKind.REGION:
            return self.subscribe(chat, action.arg)
        if kind is ActionKind.PLEDGE:
            return self.pledge(chat)
        if kind is ActionKind.DELETE_YES:
            return self.forget(chat)
        if kind is ActionKind.DELETE_NO:
            return Reply.notice(replies.TG_DELETE_CANCELLED)
        return self.admin.press(chat, action, self.clock())

    def feedback(self, chat: ChatRef, message_id: str, action: Action,
                 question: str | None) -> Reply:
        """Store 👍/👎 for an answer; a 👎 also logs the question for admins."""
        now = self.clock()
        useful = action.kind is ActionKind.FEEDBACK_UP
        intent = action.arg or None
        if intent not in self.kb.intents:  # forged or stale callback data: store nothing
            return Reply.notice(replies.TG_STALE_BUTTON)
        self.store.record_feedback(chat, message_id, intent, useful, now)
        if useful:
            return Reply.notice(replies.TG_FEEDBACK_THANKS)
        self.store.record_miss(question or intent or "?", "thumbs_down", intent, now, chat)
        return Reply.notice(replies.TG_FEEDBACK_NOTED)

    def none_of_these(self, question: str | None, asker: ChatRef | None = None) -> Reply:
        """The 'Bukan semuanya' button: log the question as a miss and offer the topics."""
        if question:
            self.store.record_miss(question, "none_of_these", None, self.clock(), asker)
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
        dialogue = Dialogue(kb, model_cache=self.settings.model_cache)
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

    def about(self) -> Reply:
        """Sources and the last review date (/tentang)."""
        kb = self.dialogue.kb
        reviewed = [i.reviewed for i in kb.intents.values() if i.reviewed]
        return Reply.notice(replies.render_about(kb.sources.values(), max(reviewed, default=None)))

    def _intent_or_topic(self, intent_id: str, topic_id: str) -> Reply:
        kb = self.dialogue.kb
        if intent_id in kb.intents:
            return self.dialogue.answer_intent(intent_id)
        in_topic = kb.intents_in_topic(topic_id)
        if in_topic:
            return self.dialogue.reply_for(in_topic[0])
        return self.dialogue.topic_menu()

    # -- pledge, subscription, privacy --------------------------------------------------------
    def pledge_offer(self) -> Reply:
        """The pledge text with its "Saya berikrar" button (/ikrar)."""
        return Reply.notice(self.dialogue.pledge_text(),
                            Choice(replies.TG_PLEDGE_BUTTON, Action(ActionKind.PLEDGE)))

    def pledge(self, chat: ChatRef) -> Reply:
        """Record a digital pledge once; say when it was recorded."""
        created, at = self.store.record_pledge(chat, self.clock())
        when = replies.format_local_time(dt.datetime.fromisoformat(at), self.settings.timezone)
        text = replies.TG_PLEDGE_RECORDED if created else replies.TG_PLEDGE_ALREADY
        return Reply.notice(text.format(when=when))

    def regions(self) -> list[Region]:
        """The regions a subscriber can choose, in file order."""
        return list(self.dialogue.kb.regions.values())

    def subscription_offer(self) -> Reply:
        """/langganan: every province as a button, then "Seluruh Indonesia"."""
        buttons = [Choice(r.name, Action(ActionKind.REGION, r.id)) for r in self.regions()]
        buttons.append(Choice(replies.TG_ALL_REGIONS, Action(ActionKind.REGION, ALL_REGIONS)))
        return Reply.notice(replies.TG_SUBSCRIBE_PROMPT, *buttons)

    def subscribe(self, chat: ChatRef, region_id: str) -> Reply:
        """Subscribe a chat to reminders for a region id or `ALL_REGIONS` (an explicit opt-in)."""
        if region_id == ALL_REGIONS:
            self.store.subscribe(chat, None, self.clock())
            return Reply.notice(replies.TG_SUBSCRIBED.format(region=replies.TG_ALL_REGIONS_NAME))
        region = self.dialogue.kb.regions.get(region_id)
        if region is None:
            return Reply.notice(replies.TG_UNKNOWN_REGION)
        now = self.clock()
        self.store.subscribe(chat, region.id, now)
        return Reply.notice(replies.TG_SUBSCRIBED.format(region=region.name))

    def unsubscribe(self, chat: ChatRef) -> Reply:
        """Stop reminders for a chat at once (without creating a record for unknown chats)."""
        if self.store.chat(chat) is None:
            return Reply.notice(replies.TG_NOT_SUBSCRIBED)
        was = self.store.unsubscribe(chat, self.clock())
        return Reply.notice(replies.TG_UNSUBSCRIBED if was else replies.TG_NOT_SUBSCRIBED)

    def membership_changed(self, chat: ChatRef, active: bool) -> None:
        """Record that a chat blocked (inactive) or unblocked the bot.

        Only chats we already know are updated: someone who merely opened the bot is not
        stored, and a blocked chat that we know nothing about needs no record.
        """
        if self.store.chat(chat) is not None:
            self.store.set_blocked(chat, not active, self.clock())

    def delete_offer(self) -> Reply:
        """/hapusdata: ask for confirmation first."""
        return Reply.notice(replies.TG_DELETE_CONFIRM,
                            Choice(replies.TG_DELETE_YES, Action(ActionKind.DELETE_YES)),
                            Choice(replies.TG_DELETE_NO, Action(ActionKind.DELETE_NO)))

    def forget(self, chat: ChatRef) -> Reply:
        """Delete everything stored about a chat (/hapusdata, confirmed)."""
        self.store.delete_chat(chat)
        return Reply.notice(replies.TG_DELETED)


def build_services(settings: Settings, kb: KnowledgeBase,
                   senders: Mapping[Channel, Sender] | None = None, notify: Notify | None = None,
                   clock: Clock | None = None, store: Store | None = None,
                   dialogue: Dialogue | None = None, pace: Pace | None = None) -> Services:
    """Build the core for the running channels: dialogue, store, flood guard, admin, scheduler.

    Args:
        senders: One `Sender` per channel that delivers broadcasts (none: no scheduler).
        notify: Sends admins' notices; by default through the same senders and the pace.
        store: Share a store (by default one on `settings.db_path`).
        dialogue: Share a dialogue over the same knowledge base (tests reuse one).
        pace: The one pace of every outgoing message (by default the channels' limits from
            the settings).
    """
    clock = clock or utc_now
    store = store or Store(settings.db_path)
    dialogue = dialogue or Dialogue(kb, model_cache=settings.model_cache)
    services = Services(settings=settings, dialogue=dialogue, store=store,
                        throttle=Throttle(settings.flood_limit_per_minute),
                        admin=Admin(store, settings, knowledge=lambda: services.kb,
                                    suggest=lambda text: [
                                        s.intent for s in services.dialogue.read(text).ranked]),
                        clock=clock, pace=pace or Pace(channel_limits(settings)))
    services.admin.reload = services.reload_knowledge
    if senders:
        sender = Senders(senders)
        services.scheduler = build_scheduler(
            settings, store, sender, services.pace, knowledge=lambda: services.kb,
            notify=notify or Notifier(sender, services.pace), now=clock)
        services.admin.on_change = services.scheduler.sync
    return services
