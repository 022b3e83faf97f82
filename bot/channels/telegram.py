"""Telegram channel: python-telegram-bot adapters around the core.

Together with `telegram_sender` (broadcast delivery) the only code that imports `telegram`.
Handlers are thin: they unpack the update, make one call to `Services`, the dialogue or the
`Admin` use cases, and render the returned `Reply` / `AdminReply` as a message with inline
buttons. `register_handlers` lists every handler in priority order and reads as the bot's menu;
`build_application` also wires the broadcast scheduler into the application's start and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType
from telegram.error import Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackContext,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    MessageHandler,
    filters,
)

from bot import admin as core_admin
from bot import replies
from bot.admin import Admin, AdminReply
from bot.channels.telegram_sender import START_ATTEMPTS, TelegramSender, admin_notifier
from bot.chunks import split_message
from bot.config import Settings
from bot.dialogue import ACTION_NONE, TOPIC_PREFIX, Context
from bot.knowledge import KnowledgeBase
from bot.models import Choice, Reply, ReplyKind
from bot.scheduler import build_scheduler
from bot.services import ALL_REGIONS, Services, build_services
from bot.throttle import Decision

logger = logging.getLogger(__name__)

# -- commands (Indonesian, as users type them) -----------------------------------------------
CMD_START = "start"
CMD_MULAI = "mulai"
CMD_BANTUAN = "bantuan"
CMD_TOPIK = "topik"
CMD_IKRAR = "ikrar"
CMD_LAPOR = "lapor"
CMD_JADWAL = "jadwal"
CMD_LANGGANAN = "langganan"
CMD_BERHENTI = "berhenti"
CMD_HAPUSDATA = "hapusdata"
CMD_TENTANG = "tentang"
MENU_COMMANDS = (CMD_MULAI, CMD_TOPIK, CMD_IKRAR, CMD_LAPOR, CMD_JADWAL, CMD_LANGGANAN,
                 CMD_BERHENTI, CMD_HAPUSDATA, CMD_TENTANG, CMD_BANTUAN)

# -- callback data: "<kind>[:<arg>...]", kept within Telegram's 64 bytes ----------------------
MAX_CALLBACK_BYTES = 64
CB_ANSWER = "a"      # a:<intent id>
CB_TOPIC = "t"       # t:<topic id>
CB_NONE = "n"        # "Bukan semuanya"
CB_FEEDBACK = "f"    # f:<1|0>:<intent id>
CB_REGION = "r"      # r:<region id | all>
CB_PLEDGE = "p"      # "Saya berikrar"
CB_DELETE = "d"      # d:<y|n>
CB_ADMIN = core_admin.CALLBACK_PREFIX  # adm:<ok|no>:<draft token>, made by bot/admin.py

# -- transport tuning -------------------------------------------------------------------------
POLL_TIMEOUT = dt.timedelta(seconds=30)  # long polling: Telegram answers as soon as updates exist
# Updates handled at once (across chats; one chat's updates stay in order). Telegram accepts
# about 30 messages/s per bot, and 16 requests in flight at ~100 ms round trip allow ~160/s;
# more only lengthens httpcore's pool scans (measured in benchmarks/bench_telegram.py).
CONCURRENT_UPDATES = 16
ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER)
_WAITING_UPDATES = 100_000  # see ChatOrderedProcessor
ASKED_MEMORY = 20      # per chat: bot message id -> the question it answered (for 👎 logging)
_INACTIVE = frozenset({ChatMember.LEFT, ChatMember.BANNED})


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    """Callback context with typed access to the services and the chat's dialogue context."""

    @property
    def services(self) -> Services:
        """The composition object stored in `bot_data` by `build_application`."""
        return self.bot_data["services"]

    @property
    def admin(self) -> Admin:
        """The admin use cases (every admin command goes through them, from anyone)."""
        admin = self.services.admin
        if admin is None:
            raise RuntimeError("admin commands need build_application()")
        return admin

    @property
    def dialogue_context(self) -> Context:
        """This chat's conversation state (kept in memory only)."""
        return self.chat_data.setdefault("dialogue", Context())

    def remember_question(self, message_id: int, question: str | None) -> None:
        """Remember which question a bot message answered, for 👎 and "Bukan semuanya"."""
        if not question:
            return
        asked: OrderedDict[int, str] = self.chat_data.setdefault("asked", OrderedDict())
        asked[message_id] = question
        while len(asked) > ASKED_MEMORY:
            asked.popitem(last=False)

    def question_for(self, message_id: int) -> str | None:
        """The question a bot message answered, if still remembered."""
        return self.chat_data.get("asked", {}).get(message_id)


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Process updates concurrently across chats, but one at a time and in order per chat.

    PTB's default processor is either fully sequential (slow under load) or fully concurrent
    (a user's quick double tap could be answered out of order); this keeps both properties.
    The limit of `running` updates is applied *after* an update's turn in its chat has come.
    The base class's semaphore, taken first, is left wide (`max_concurrent_updates` is
    `_WAITING_UPDATES`), so one chat with many queued updates cannot hold every slot while the
    other chats wait. Waiting updates are cheap tasks either way.
    """

    __slots__ = ("_locks", "_pending", "_slots", "running")

    def __init__(self, running: int) -> None:
        super().__init__(_WAITING_UPDATES)
        self.running = running
        self._slots = asyncio.BoundedSemaphore(running)
        self._locks: dict[int, asyncio.Lock] = {}
        self._pending: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await `coroutine` after earlier updates of the same chat have finished."""
        key = _chat_key(update)
        if key is None:
            async with self._slots:
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._pending[key] = self._pending.get(key, 0) + 1
        try:
            async with lock, self._slots:
                await coroutine
        finally:
            self._pending[key] -= 1
            if not self._pending[key]:
                del self._pending[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _chat_key(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_chat:
        return update.effective_chat.id
    return None


class _AddressedToBot(filters.MessageFilter):
    """Messages that mention the bot by @username or reply to one of its messages."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == bot.id:
            return True
        mention = f"@{bot.username}".lower()
        found = {**message.parse_entities([MessageEntity.MENTION]),
                 **message.parse_caption_entities([MessageEntity.MENTION])}
        return any(text.lower() == mention for text in found.values())


ADDRESSED = _AddressedToBot(name="addressed_to_bot")
NEW_MESSAGE = filters.UpdateType.MESSAGE
FOR_US = filters.ChatType.PRIVATE | ADDRESSED  # in groups only mentions and replies count
QUESTION = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & FOR_US
NON_TEXT = NEW_MESSAGE & ~filters.TEXT & ~filters.StatusUpdate.ALL & FOR_US
COUNTED = NEW_MESSAGE & (filters.COMMAND | FOR_US)  # what the flood guard counts


# -- callback data --------------------------------------------------------------------------
def callback_data(*parts: str) -> str:
    """Join callback parts with ':' and enforce Telegram's 64-byte limit.

    Raises:
        ValueError: If the encoded data is longer than `MAX_CALLBACK_BYTES`.
    """
    data = ":".join(parts)
    if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data longer than {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def choice_data(choice: Choice) -> str:
    """Encode a core button (intent id, topic or "none") as compact callback data."""
    if choice.intent == ACTION_NONE:
        return callback_data(CB_NONE)
    if choice.intent.startswith(TOPIC_PREFIX):
        return callback_data(CB_TOPIC, choice.intent.removeprefix(TOPIC_PREFIX))
    return callback_data(CB_ANSWER, choice.intent)


def _argument(data: str | None) -> str:
    return (data or "").partition(":")[2]


# -- keyboards ----------------------------------------------------------------------------
def _button(label: str, *parts: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=callback_data(*parts))


def _pairs(buttons: Sequence[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i:i + 2]) for i in range(0, len(buttons), 2)]


def reply_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    """Render a reply's buttons: questions one per row, topics two per row, then 👍/👎."""
    topics = [InlineKeyboardButton(c.label, callback_data=choice_data(c))
              for c in reply.buttons if c.intent.startswith(TOPIC_PREFIX)]
    rows = [[InlineKeyboardButton(c.label, callback_data=choice_data(c))]
            for c in reply.buttons if not c.intent.startswith(TOPIC_PREFIX)]
    rows += _pairs(topics)
    if reply.kind is ReplyKind.ANSWER and reply.intent:
        rows.append([_button(replies.TG_FEEDBACK_UP, CB_FEEDBACK, "1", reply.intent),
                     _button(replies.TG_FEEDBACK_DOWN, CB_FEEDBACK, "0", reply.intent)])
    return InlineKeyboardMarkup(rows) if rows else None


def region_markup(services: Services) -> InlineKeyboardMarkup:
    """The /langganan keyboard: every province, two per row, then "Seluruh Indonesia"."""
    rows = _pairs([_button(r.name, CB_REGION, r.id) for r in services.regions()])
    rows.append([_button(replies.TG_ALL_REGIONS, CB_REGION, ALL_REGIONS)])
    return InlineKeyboardMarkup(rows)


def _without_feedback(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    if markup is None:
        return None
    rows = [row for row in markup.inline_keyboard
            if not any(str(b.callback_data).startswith(CB_FEEDBACK + ":") for b in row)]
    return InlineKeyboardMarkup(rows) if rows else None


# -- sending --------------------------------------------------------------------------------
async def _say(update: Update, text: str,
               markup: InlineKeyboardMarkup | None = None) -> Message:
    """Send `text` to the update's chat, split at 4,096 chars; buttons go under the last part.

    Replies to a message quote it in groups (PTB's default), so the asker sees which question
    was answered.
    """
    message = update.message
    send = message.reply_text if message is not None else update.effective_chat.send_message
    *head, last = split_message(text)
    for part in head:
        await send(part)
    return await send(last, reply_markup=markup)


async def _say_reply(update: Update, context: BotContext, reply: Reply,
                     question: str | None = None) -> None:
    sent = await _say(update, reply.text, reply_markup(reply))
    context.remember_question(sent.message_id, question)


def _strip_mention(text: str, username: str | None) -> str:
    if not username:
        return text
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE).strip()


# -- private chats -------------------------------------------------------------------------
# Subscriptions, the pledge and /hapusdata act on the data stored for a chat. In a group any
# member could press the group's buttons, so they only work in a private chat with the bot.
HandlerCallback = Callable[[Update, BotContext], Awaitable[None]]


def _in_private_chat(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


async def refuse_outside_private(update: Update, context: BotContext) -> None:
    """Say (as a message, or a button's answer) that this only works in a private chat."""
    notice = replies.TG_PRIVATE_ONLY.format(username=context.bot.username)
    if update.callback_query is not None:
        await update.callback_query.answer(notice, show_alert=True)
    else:
        await _say(update, notice)


def private_chat_only(handler: HandlerCallback) -> HandlerCallback:
    """Run `handler` in private chats only; elsewhere refuse politely and change nothing."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: BotContext) -> None:
        if _in_private_chat(update):
            await handler(update, context)
        else:
            await refuse_outside_private(update, context)

    return guarded


# -- handlers: commands -------------------------------------------------------------------
async def greet(update: Update, context: BotContext) -> None:
    """/mulai and /start: greeting, what the bot can do, and the disclaimer."""
    await _say(update, replies.TG_WELCOME)


async def show_help(update: Update, context: BotContext) -> None:
    """/bantuan: the command list."""
    await _say(update, replies.render_help(MENU_COMMANDS, context.bot.username))


async def show_topics(update: Update, context: BotContext) -> None:
    """/topik: the topic menu as buttons."""
    await _say_reply(update, context, context.services.dialogue.topic_menu())


async def show_pledge(update: Update, context: BotContext) -> None:
    """/ikrar: the pledge text with a "Saya berikrar" button (in groups: where to pledge)."""
    text = context.services.dialogue.pledge_text()
    if not _in_private_chat(update):
        hint = replies.TG_PLEDGE_PRIVATE_ONLY.format(username=context.bot.username)
        await _say(update, f"{text}\n\n{hint}")
        return
    markup = InlineKeyboardMarkup([[_button(replies.TG_PLEDGE_BUTTON, CB_PLEDGE)]])
    await _say(update, text, markup)


async def show_report(update: Update, context: BotContext) -> None:
    """/lapor: how and where to report a violation."""
    await _say_reply(update, context, context.services.report_reply())


async def show_schedule(update: Update, context: BotContext) -> None:
    """/jadwal: upcoming election stages."""
    await _say_reply(update, context, context.services.schedule_reply())


@private_chat_only
async def offer_subscription(update: Update, context: BotContext) -> None:
    """/langganan: choose a province (or all of Indonesia) with buttons."""
    await _say(update, replies.TG_SUBSCRIBE_PROMPT, region_markup(context.services))


@private_chat_only
async def unsubscribe(update: Update, context: BotContext) -> None:
    """/berhenti: stop reminders."""
    await _say(update, context.services.unsubscribe(update.effective_chat.id))


@private_chat_only
async def confirm_delete(update: Update, context: BotContext) -> None:
    """/hapusdata: ask for confirmation before deleting everything stored about the chat."""
    markup = InlineKeyboardMarkup([[_button(replies.TG_DELETE_YES, CB_DELETE, "y"),
                                    _button(replies.TG_DELETE_NO, CB_DELETE, "n")]])
    await _say(update, replies.TG_DELETE_CONFIRM, markup)


async def show_about(update: Update, context: BotContext) -> None:
    """/tentang: sources and the last review date."""
    await _say(update, context.services.about_text())


async def unknown_command(update: Update, context: BotContext) -> None:
    """Any other /command in a private chat."""
    await _say(update, replies.TG_UNKNOWN_COMMAND)


# -- handlers: admin -----------------------------------------------------------------------
# Anyone may type these in a private chat: the core checks the allow-list, audits every attempt
# and answers a refusal politely. /muatulang has its own handler (it loads files off the loop).
ROUTED_ADMIN_COMMANDS = tuple(c for c in core_admin.ADMIN_COMMANDS if c != core_admin.CMD_RELOAD)
_COMMAND = re.compile(r"/(?P<name>[^\s@]+)(?:@\S*)?")


def command_text(text: str) -> tuple[str, str]:
    """Split a command message into its name (lower case) and the raw text after it.

    Unlike `context.args`, the rest keeps its line breaks: a broadcast's text is multi-line.
    """
    match = _COMMAND.match(text)
    if match is None:
        return "", text
    return match["name"].lower(), text[match.end():].lstrip()


def admin_markup(reply: AdminReply) -> InlineKeyboardMarkup | None:
    """Render an admin reply's buttons, two per row (callback data checked against 64 bytes)."""
    buttons = [InlineKeyboardButton(b.label, callback_data=callback_data(b.data))
               for b in reply.buttons]
    return InlineKeyboardMarkup(_pairs(buttons)) if buttons else None


def admin_reply(admin: Admin, text: str, user_id: int, chat_id: int,
                now: dt.datetime) -> AdminReply:
    """Route one admin command message (any of `ROUTED_ADMIN_COMMANDS`) to its use case."""
    name, args = command_text(text)
    match name:
        case core_admin.CMD_SCHEDULE:
            return admin.draft_broadcast(user_id, chat_id, args, now)
        case core_admin.CMD_UPCOMING:
            return admin.list_upcoming(user_id, now)
        case core_admin.CMD_CANCEL:
            return admin.cancel(user_id, args, now)
        case core_admin.CMD_SEND_NOW:
            return admin.send_now(user_id, chat_id, args, now)
        case core_admin.CMD_PROGRESS:
            return admin.progress(user_id, args, now)
        case core_admin.CMD_STATS:
            return admin.statistics(user_id, now)
        case core_admin.CMD_UNANSWERED:
            return admin.unanswered(user_id, now)
        case _:
            return admin.help(user_id, now)


async def run_admin_command(update: Update, context: BotContext) -> None:
    """Any admin command but /muatulang, from anyone in a private chat: one `Admin` call."""
    reply = admin_reply(context.admin, update.message.text, update.effective_user.id,
                        update.effective_chat.id, context.services.clock())
    await _say(update, reply.text, admin_markup(reply))


async def reload_knowledge(update: Update, context: BotContext) -> None:
    """/muatulang: load the knowledge base off the event loop, then swap it in (admins only).

    A broken edit keeps the old knowledge base and the admin gets every problem, located.
    """
    services, user_id = context.services, update.effective_user.id
    install = services.reload_knowledge  # a refused user never gets this far
    if context.admin.is_admin(user_id):  # only admins make us parse YAML, and not on the loop
        install = await asyncio.to_thread(services.prepare_knowledge)
    reply = context.admin.reload_knowledge(user_id, services.clock(), install)
    await _say(update, reply.text, admin_markup(reply))


# -- handlers: messages --------------------------------------------------------------------
async def answer_question(update: Update, context: BotContext) -> None:
    """Answer free text (private chats; in groups only when mentioned or replied to)."""
    question = _strip_mention(update.message.text, context.bot.username)
    reply = context.services.ask(question, context.dialogue_context)
    await _say_reply(update, context, reply, question)


async def ask_for_text(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice notes …: politely ask for a typed question."""
    await _say(update, replies.TG_NON_TEXT)


# -- handlers: buttons ---------------------------------------------------------------------
async def press_answer(update: Update, context: BotContext) -> None:
    """A question button (clarification, topic list, related question)."""
    query = update.callback_query
    await query.answer()
    reply = context.services.dialogue.answer_intent(_argument(query.data))
    await _say_reply(update, context, reply, context.question_for(query.message.message_id))


async def press_topic(update: Update, context: BotContext) -> None:
    """A topic button: list the topic's questions."""
    await update.callback_query.answer()
    reply = context.services.dialogue.topic(_argument(update.callback_query.data))
    await _say_reply(update, context, reply)


async def press_none(update: Update, context: BotContext) -> None:
    """"Bukan semuanya" under a clarification: log the miss, offer the topics."""
    query = update.callback_query
    await query.answer()
    reply = context.services.none_of_these(context.question_for(query.message.message_id))
    await _say_reply(update, context, reply)


async def press_feedback(update: Update, context: BotContext) -> None:
    """👍/👎 under an answer: store it, thank the user, remove the two buttons."""
    query = update.callback_query
    useful, _, intent = _argument(query.data).partition(":")
    message_id = query.message.message_id
    thanks = context.services.feedback(update.effective_chat.id, message_id, intent or None,
                                       useful == "1", context.question_for(message_id))
    await query.answer(thanks)
    with contextlib.suppress(TelegramError):  # e.g. the message is too old to edit
        await query.edit_message_reply_markup(_without_feedback(query.message.reply_markup))


@private_chat_only
async def press_region(update: Update, context: BotContext) -> None:
    """A region button of /langganan: subscribe."""
    query = update.callback_query
    await query.answer()
    text = context.services.subscribe(update.effective_chat.id, _argument(query.data))
    await query.edit_message_text(text)


@private_chat_only
async def press_pledge(update: Update, context: BotContext) -> None:
    """"Saya berikrar": record the pledge once and say when."""
    await update.callback_query.answer()
    await _say(update, context.services.pledge(update.effective_chat.id))


@private_chat_only
async def press_delete(update: Update, context: BotContext) -> None:
    """The /hapusdata confirmation buttons."""
    query = update.callback_query
    await query.answer()
    if _argument(query.data) != "y":
        await query.edit_message_text(replies.TG_DELETE_CANCELLED)
        return
    text = context.services.forget(update.effective_chat.id)
    context.chat_data.clear()
    await query.edit_message_text(text)


async def press_admin(update: Update, context: BotContext) -> None:
    """A preview's confirm / discard button: take the buttons off, then say what happened."""
    query = update.callback_query
    reply = context.admin.press(update.effective_user.id, query.data or "",
                                context.services.clock())
    await query.answer()
    with contextlib.suppress(TelegramError):  # a preview is answered once
        await query.edit_message_reply_markup(None)
    await _say(update, reply.text, admin_markup(reply))


async def press_stale(update: Update, context: BotContext) -> None:
    """A button from an older version of the bot: say so instead of leaving it spinning."""
    await update.callback_query.answer(replies.TG_STALE_BUTTON)


# -- handlers: housekeeping ----------------------------------------------------------------
async def guard_flood(update: Update, context: BotContext) -> None:
    """Stop a flooding user's updates (one polite warning), before any other handler runs."""
    decision = context.services.check_flood(update.effective_user.id)
    if decision is Decision.ALLOW:
        return
    query = update.callback_query
    if query is not None:
        await query.answer(replies.TG_SLOW_DOWN if decision is Decision.WARN else None)
    elif decision is Decision.WARN:
        await _say(update, replies.TG_SLOW_DOWN)
    raise ApplicationHandlerStop


async def track_membership(update: Update, context: BotContext) -> None:
    """my_chat_member: the user blocked/removed the bot, or started it again."""
    member = update.my_chat_member
    active = member.new_chat_member.status not in _INACTIVE
    context.services.membership_changed(member.chat.id, active)


async def report_error(update: object, context: BotContext) -> None:
    """Log a failed update (no token, no user text) and apologise in the chat if there is one."""
    error = context.error
    if not isinstance(update, Update):
        if isinstance(error, NetworkError):
            logger.warning("Telegram API unreachable: %s", type(error).__name__)
        else:
            logger.error("error outside an update", exc_info=error)
        return
    logger.error("update %s failed", update.update_id, exc_info=error)
    if update.effective_chat is None or isinstance(error, Forbidden):
        return
    with contextlib.suppress(TelegramError):
        await update.effective_chat.send_message(replies.TG_ERROR)


# -- wiring ---------------------------------------------------------------------------------
def register_handlers(app: Application) -> None:
    """Register every handler, in priority order: this function is the bot's menu."""
    app.add_handler(MessageHandler(COUNTED, guard_flood), group=-1)
    app.add_handler(CallbackQueryHandler(guard_flood), group=-1)

    app.add_handler(CommandHandler([CMD_MULAI, CMD_START], greet))
    app.add_handler(CommandHandler(CMD_BANTUAN, show_help))
    app.add_handler(CommandHandler(CMD_TOPIK, show_topics))
    app.add_handler(CommandHandler(CMD_IKRAR, show_pledge))
    app.add_handler(CommandHandler(CMD_LAPOR, show_report))
    app.add_handler(CommandHandler(CMD_JADWAL, show_schedule))
    app.add_handler(CommandHandler(CMD_LANGGANAN, offer_subscription))
    app.add_handler(CommandHandler(CMD_BERHENTI, unsubscribe))
    app.add_handler(CommandHandler(CMD_HAPUSDATA, confirm_delete))
    app.add_handler(CommandHandler(CMD_TENTANG, show_about))
    app.add_handler(CommandHandler(ROUTED_ADMIN_COMMANDS, run_admin_command,
                                   filters=filters.ChatType.PRIVATE))
    app.add_handler(CommandHandler(core_admin.CMD_RELOAD, reload_knowledge,
                                   filters=filters.ChatType.PRIVATE))
    app.add_handler(MessageHandler(NEW_MESSAGE & filters.COMMAND & filters.ChatType.PRIVATE,
                                   unknown_command))

    app.add_handler(CallbackQueryHandler(press_answer, pattern=f"^{CB_ANSWER}:"))
    app.add_handler(CallbackQueryHandler(press_topic, pattern=f"^{CB_TOPIC}:"))
    app.add_handler(CallbackQueryHandler(press_none, pattern=f"^{CB_NONE}$"))
    app.add_handler(CallbackQueryHandler(press_feedback, pattern=f"^{CB_FEEDBACK}:[01]:"))
    app.add_handler(CallbackQueryHandler(press_region, pattern=f"^{CB_REGION}:"))
    app.add_handler(CallbackQueryHandler(press_pledge, pattern=f"^{CB_PLEDGE}$"))
    app.add_handler(CallbackQueryHandler(press_delete, pattern=f"^{CB_DELETE}:"))
    app.add_handler(CallbackQueryHandler(press_admin, pattern=f"^{CB_ADMIN}:"))
    app.add_handler(CallbackQueryHandler(press_stale))

    app.add_handler(ChatMemberHandler(track_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(QUESTION, answer_question))
    app.add_handler(MessageHandler(NON_TEXT, ask_for_text))
    app.add_error_handler(report_error)


def api_urls(base: str) -> tuple[str, str]:
    """Turn TELEGRAM_BASE_URL (a Bot API server root) into PTB's `base_url` and `base_file_url`.

    `http://host:8081`, `http://host:8081/` and `http://host:8081/bot` all give
    `("http://host:8081/bot", "http://host:8081/file/bot")`; PTB appends the token.
    """
    root = base.strip().rstrip("/").removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


async def _set_commands(app: Application) -> None:
    """Set the public command menu (admin commands stay out of it; /admin lists them)."""
    try:
        await app.bot.set_my_commands(
            [BotCommand(name, replies.TG_COMMAND_MENU[name]) for name in MENU_COMMANDS])
    except TelegramError as exc:  # the menu is a convenience; never refuse to start over it
        logger.warning("setMyCommands failed: %s", exc)


async def _start(app: Application) -> None:
    """post_init: the command menu, then broadcasts (resume, catch up, register timers)."""
    await _set_commands(app)
    services: Services = app.bot_data["services"]
    await app.bot_data["sender"].start()
    if services.scheduler is not None:
        await services.scheduler.start()


async def _stop(app: Application) -> None:
    """post_stop: let deliveries finish their in-flight messages (the rest resumes next start).

    Runs before the application shuts its bot down, so a last progress report still goes out.
    """
    services: Services = app.bot_data["services"]
    if services.scheduler is not None:
        await services.scheduler.shutdown()


async def _close(app: Application) -> None:
    """post_shutdown: close the broadcast connection pool."""
    await app.bot_data["sender"].stop()


def attach_broadcasting(app: Application, services: Services) -> TelegramSender:
    """Give `services` a broadcast scheduler sending through its own Bot, and the admin use cases.

    Admin notices (progress, results, missed broadcasts) go through the application's bot.
    """
    settings = services.settings
    base_url, base_file_url = (api_urls(settings.telegram_base_url)
                               if settings.telegram_base_url else (None, None))
    sender = TelegramSender(settings.telegram_token or "", base_url, base_file_url)

    def knowledge() -> KnowledgeBase:  # read at each use: a reload swaps it
        return services.dialogue.kb

    services.scheduler = build_scheduler(settings, services.store, sender, knowledge=knowledge,
                                         notify=admin_notifier(app.bot), now=services.clock)
    services.admin = Admin(services.store, settings, knowledge=knowledge,
                           on_change=services.scheduler.sync)
    return sender


def build_application(services: Services) -> Application:
    """Build the PTB Application for `services.settings`: handlers, scheduler, admin commands."""
    settings = services.settings
    if not settings.telegram_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(ChatOrderedProcessor(CONCURRENT_UPDATES))
        # Interactive replies are not paced (they answer users); a 429 is honoured once, and
        # groups keep to Telegram's 20 messages a minute. Broadcasts pace themselves.
        .rate_limiter(AIORateLimiter(overall_max_rate=0, max_retries=1))
        .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True),
                           allow_sending_without_reply=True))
        .job_queue(None)  # timers live in bot/scheduler.py
        .post_init(_start)
        .post_stop(_stop)
        .post_shutdown(_close)
    )
    if settings.telegram_base_url:
        base_url, base_file_url = api_urls(settings.telegram_base_url)
        builder = builder.base_url(base_url).base_file_url(base_file_url)
    app = builder.build()
    app.bot_data["services"] = services
    app.bot_data["sender"] = attach_broadcasting(app, services)
    register_handlers(app)
    return app


class TokenRedactor(logging.Filter):
    """Replace the bot token in every log record (URLs of failed requests can contain it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message, its arguments and any formatted traceback; always keep it."""
        message = record.getMessage()
        if self._token in message:
            record.msg, record.args = message.replace(self._token, "<token>"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self._token in record.exc_text:
            record.exc_text = record.exc_text.replace(self._token, "<token>")
        return True


def _install_log_hygiene(token: str, handlers: Iterable[logging.Handler]) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    redactor = TokenRedactor(token)
    for handler in handlers:
        handler.addFilter(redactor)


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Arguments for `run_webhook`/`Updater.start_webhook` from the settings.

    The local path is the path of WEBHOOK_URL (a reverse proxy forwards it unchanged), and
    Telegram must echo WEBHOOK_SECRET in `X-Telegram-Bot-Api-Secret-Token`; PTB answers 403
    to any request without it.
    """
    return {
        "listen": settings.webhook_listen, "port": settings.webhook_port,
        "url_path": urlsplit(settings.webhook_url or "").path.lstrip("/"),
        "webhook_url": settings.webhook_url, "secret_token": settings.webhook_secret,
        "allowed_updates": list(ALLOWED_UPDATES),
    }


def run_telegram(settings: Settings, kb: KnowledgeBase) -> bool:
    """Run the bot until interrupted: long polling, or a webhook when WEBHOOK_URL is set.

    Returns:
        False if Telegram refused to start the bot (bad token, unreachable after retries); the
        reason is logged without the exception's text, which can contain the token.
    """
    if not settings.telegram_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    _install_log_hygiene(settings.telegram_token, logging.getLogger().handlers)
    services = build_services(settings, kb)
    app = build_application(services)
    retries = START_ATTEMPTS - 1  # getMe and (de)registering the webhook, on network errors
    try:
        if settings.webhook_url:
            logger.info("starting webhook on %s:%d", settings.webhook_listen,
                        settings.webhook_port)
            app.run_webhook(**webhook_options(settings), bootstrap_retries=retries)
        else:
            logger.info("starting long polling")
            app.run_polling(timeout=POLL_TIMEOUT, allowed_updates=list(ALLOWED_UPDATES),
                            bootstrap_retries=retries)
    except InvalidToken:
        logger.error("Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN")
        return False
    except TelegramError as exc:  # run_* only raise these while starting up
        logger.error("could not start the Telegram bot: %s", type(exc).__name__)
        return False
    finally:
        services.store.close()
    return True
