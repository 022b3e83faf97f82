"""Telegram handlers: thin adapters from PTB updates to the core, and the bot's menu.

Each handler unpacks the update, makes one call to `Services` (or the `Conversation` router, or
`Admin.handle`) and renders the returned `Reply` as a message with inline buttons.
`register_handlers` lists every handler in priority order and reads as the bot's menu.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable

from telegram import (
    CallbackQuery,
    ChatMember,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import admin as core_admin
from bot import replies
from bot.channels.telegram.context import BotContext, chat_of, user_of
from bot.channels.telegram.keyboards import (
    CB_ADMIN,
    CB_ANSWER,
    CB_DELETE,
    CB_FEEDBACK,
    CB_MORE,
    CB_NONE,
    CB_PLEDGE,
    CB_REGION,
    CB_TOPIC,
    CB_TOPICS,
    decode,
    reply_markup,
    without,
)
from bot.channels.telegram.sender import NOT_MODIFIED
from bot.chunks import split_markup
from bot.conversation import (
    CMD_BANTUAN,
    CMD_BERHENTI,
    CMD_HAPUSDATA,
    CMD_IKRAR,
    CMD_JADWAL,
    CMD_LANGGANAN,
    CMD_LAPOR,
    CMD_MULAI,
    CMD_START,
    CMD_TENTANG,
    CMD_TOPIK,
    MENU_COMMANDS,
    parse_command,
)
from bot.markup import escape, from_spans
from bot.models import Action, ActionKind, ChatRef, Reply, ReplyKind
from bot.throttle import Decision

logger = logging.getLogger(__name__)

_INACTIVE = frozenset({ChatMember.LEFT, ChatMember.BANNED})


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
NEW_OR_EDITED = filters.UpdateType.MESSAGES  # an edited question is answered again
FOR_US = filters.ChatType.PRIVATE | ADDRESSED  # in groups only mentions and replies count
WORDS = filters.TEXT | filters.CAPTION  # a photo with a question in its caption is a question
QUESTION = NEW_OR_EDITED & WORDS & ~filters.COMMAND & FOR_US
NON_TEXT = NEW_MESSAGE & ~WORDS & ~filters.StatusUpdate.ALL & FOR_US
COUNTED = NEW_OR_EDITED & (filters.COMMAND | FOR_US)  # what the flood guard counts
# Never slowed down: leaving and erasing one's data must always work.
UNTHROTTLED_COMMANDS = frozenset({CMD_BERHENTI, CMD_HAPUSDATA})
CMD_ID = "id"  # replies with the user's numeric id, for ADMIN_IDS (not in the public menu)


# -- sending --------------------------------------------------------------------------------
# Every message goes as HTML (bot/markup.py): replies with their bold spans, everything else
# escaped, so no knowledge-base or user text is ever read as markup.
async def _say(update: Update, text: str) -> Message:
    """Send plain `text` to the update's chat (see `_say_markup`)."""
    return await _say_markup(update, escape(text))


async def _say_markup(update: Update, markup: str,
                      keyboard: InlineKeyboardMarkup | None = None) -> Message:
    """Send markup to the update's chat, split at 4,096 chars; buttons go under the last part.

    Replies to a message quote it in groups (PTB's default), so the asker sees which question
    was answered.
    """
    message = update.message or update.edited_message
    send = message.reply_text if message is not None else update.effective_chat.send_message
    *head, last = split_markup(markup)
    for part in head:
        await send(part, parse_mode=ParseMode.HTML)
    return await send(last, parse_mode=ParseMode.HTML, reply_markup=keyboard)


async def _say_reply(update: Update, context: BotContext, reply: Reply,
                     question: str | None = None) -> None:
    """Send what a core reply shows, with its buttons; remember the question it answered."""
    shown = reply.shown()
    sent = await _say_markup(update, from_spans(shown.text, shown.bold), reply_markup(reply))
    context.remember_question(sent.message_id, question)


async def _edit_markup(query: CallbackQuery, markup: str,
                       keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Edit the pressed message; "not modified" (a double tap) counts as done."""
    try:
        await query.edit_message_text(markup, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    except BadRequest as exc:
        if NOT_MODIFIED not in exc.message.lower():
            raise


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
    offer = context.services.pledge_offer()
    if not _in_private_chat(update):
        hint = replies.TG_PLEDGE_PRIVATE_ONLY.format(username=context.bot.username)
        await _say(update, f"{offer.text}\n\n{hint}")
        return
    await _say_reply(update, context, offer)


async def show_report(update: Update, context: BotContext) -> None:
    """/lapor: how and where to report a violation."""
    await _say_reply(update, context, context.services.report_reply())


async def show_schedule(update: Update, context: BotContext) -> None:
    """/jadwal: upcoming election stages."""
    await _say_reply(update, context, context.services.schedule_reply())


@private_chat_only
async def offer_subscription(update: Update, context: BotContext) -> None:
    """/langganan: choose a province (or all of Indonesia) with buttons."""
    await _say_reply(update, context, context.services.subscription_offer())


@private_chat_only
async def unsubscribe(update: Update, context: BotContext) -> None:
    """/berhenti: stop reminders."""
    await _say_reply(update, context, context.services.unsubscribe(chat_of(update)))


@private_chat_only
async def confirm_delete(update: Update, context: BotContext) -> None:
    """/hapusdata: ask for confirmation before deleting everything stored about the chat."""
    await _say_reply(update, context, context.services.delete_offer())


async def show_about(update: Update, context: BotContext) -> None:
    """/tentang: sources and the last review date."""
    await _say_reply(update, context, context.services.about())


async def show_id(update: Update, context: BotContext) -> None:
    """/id: the user's numeric Telegram id (what an operator puts in ADMIN_IDS)."""
    await _say(update, replies.TG_YOUR_ID.format(user_id=update.effective_user.id))


async def unknown_command(update: Update, context: BotContext) -> None:
    """Any other /command in a private chat."""
    await _say(update, replies.TG_UNKNOWN_COMMAND)


# -- handlers: admin -----------------------------------------------------------------------
# Anyone may type these in a private chat: the core checks the allow-list, audits every attempt
# and answers a refusal politely. /muatulang loads files off the event loop.
ROUTED_ADMIN_COMMANDS = tuple(c for c in core_admin.ADMIN_COMMANDS if c != core_admin.CMD_RELOAD)


async def run_admin_command(update: Update, context: BotContext) -> None:
    """Any admin command but /muatulang, from anyone in a private chat: one `Admin` call."""
    name, args = parse_command(update.message.text) or ("", "")
    reply = context.services.admin.handle(name, args, user_of(update), context.services.clock())
    await _say_reply(update, context, reply)


async def reload_knowledge(update: Update, context: BotContext) -> None:
    """/muatulang: reload the knowledge base (admins only; a broken edit keeps the old one)."""
    await _say_reply(update, context, await context.conversation.reload_knowledge(
        user_of(update)))


# -- handlers: messages --------------------------------------------------------------------
async def answer_question(update: Update, context: BotContext) -> None:
    """Answer free text, an edited message or a photo's caption (in groups only when addressed).

    Shows "typing…" first; the indicator is a courtesy and never stops the answer.
    """
    message = update.effective_message
    with contextlib.suppress(TelegramError):
        await update.effective_chat.send_action(ChatAction.TYPING)
    question = _strip_mention(message.text or message.caption or "", context.bot.username)
    reply = context.services.ask(question, context.memory.context, user_of(update))
    await _say_reply(update, context, reply, question)


async def ask_for_text(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice notes …: politely ask for a typed question."""
    await _say(update, replies.TG_NON_TEXT)


# -- handlers: buttons ---------------------------------------------------------------------
def _pressed(update: Update) -> Action:
    action = decode(update.callback_query.data)
    if action is None:  # the patterns in register_handlers only let known data through
        raise ValueError("unknown callback data")
    return action


def _question(update: Update, context: BotContext) -> str | None:
    return context.question_for(update.callback_query.message.message_id)


async def press_answer(update: Update, context: BotContext) -> None:
    """A question, topic, "Semua topik" or "Bukan semuanya" button: reply with a new message."""
    await update.callback_query.answer()
    reply = context.services.press(chat_of(update), _pressed(update), _question(update, context))
    question = _question(update, context) if reply.kind is not ReplyKind.FALLBACK else None
    await _say_reply(update, context, reply, question)


async def press_feedback(update: Update, context: BotContext) -> None:
    """👍/👎 under an answer: store it, thank the user, remove the two buttons."""
    query = update.callback_query
    message_id = query.message.message_id
    thanks = context.services.press(chat_of(update), _pressed(update),
                                    _question(update, context), str(message_id))
    await query.answer(thanks.text)
    with contextlib.suppress(TelegramError):  # e.g. the message is too old to edit
        await query.edit_message_reply_markup(without(query.message.reply_markup, CB_FEEDBACK))


async def press_more(update: Update, context: BotContext) -> None:
    """"Selengkapnya" under a short answer: the whole answer replaces it, buttons kept."""
    query = update.callback_query
    reply = context.services.press(chat_of(update), _pressed(update))
    if reply.kind is not ReplyKind.ANSWER:  # forged or stale: the answer is gone
        await query.answer(replies.TG_STALE_BUTTON)
        return
    await query.answer()
    await _edit_markup(query, from_spans(reply.text, reply.bold),
                       without(query.message.reply_markup, CB_MORE))


@private_chat_only
async def press_in_private(update: Update, context: BotContext) -> None:
    """A region, pledge or /hapusdata button: it acts on the chat's own data."""
    query = update.callback_query
    await query.answer()
    action = _pressed(update)
    reply = context.services.press(chat_of(update), action)
    if action.kind is ActionKind.PLEDGE:
        await _say(update, reply.text)
        return
    if action.kind is ActionKind.DELETE_YES:
        context.chat_data.clear()
    await _edit_markup(query, escape(reply.text))


async def press_admin(update: Update, context: BotContext) -> None:
    """An admin button: a preview's confirm / discard or a logged question's choice takes the
    buttons off, then says what happened; a question number in /takterjawab opens its choices."""
    query = update.callback_query
    action = _pressed(update)
    reply = context.services.press(user_of(update), action)
    await query.answer()
    if action.kind is not ActionKind.ADMIN_MISS:
        with contextlib.suppress(TelegramError):  # answered once
            await query.edit_message_reply_markup(None)
    await _say_reply(update, context, reply)


async def press_stale(update: Update, context: BotContext) -> None:
    """A button from an older version of the bot: say so instead of leaving it spinning."""
    await update.callback_query.answer(replies.TG_STALE_BUTTON)


# -- handlers: housekeeping ----------------------------------------------------------------
async def guard_flood(update: Update, context: BotContext) -> None:
    """Stop a flooding user's updates (one polite warning), before any other handler runs.

    Messages and button taps are counted apart (browsing topics is not flooding); /berhenti,
    /hapusdata and the deletion's confirm buttons are never held back.
    """
    query = update.callback_query
    if query is not None and str(query.data or "").startswith(f"{CB_DELETE}:"):
        return
    if query is None:
        command = parse_command(update.effective_message.text or "")
        if command is not None and command[0] in UNTHROTTLED_COMMANDS:
            return
    decision = context.services.check_flood(user_of(update), tap=query is not None)
    if decision is Decision.ALLOW:
        return
    if query is not None:
        await query.answer(replies.TG_SLOW_DOWN if decision is Decision.WARN else None)
    elif decision is Decision.WARN:
        await _say(update, replies.TG_SLOW_DOWN)
    raise ApplicationHandlerStop


async def ignore_edited_command(update: Update, context: BotContext) -> None:
    """An edited /command is not run again (an edited question is answered again)."""
    raise ApplicationHandlerStop


async def track_membership(update: Update, context: BotContext) -> None:
    """my_chat_member: the user blocked/removed the bot, or started it again."""
    member = update.my_chat_member
    active = member.new_chat_member.status not in _INACTIVE
    context.services.membership_changed(ChatRef.telegram(member.chat.id), active)


async def report_error(update: object, context: BotContext) -> None:
    """Log a failed update (no token, no user text) and apologise in the chat if there is one."""
    error = context.error
    if not isinstance(update, Update):
        if isinstance(error, Conflict):
            _report_conflict(context)
        elif isinstance(error, NetworkError):
            logger.warning("Telegram API unreachable: %s", type(error).__name__)
        else:
            logger.error("error outside an update", exc_info=error)
        return
    logger.error("update %s failed", update.update_id, exc_info=error)
    if update.effective_chat is None or isinstance(error, Forbidden):
        return
    with contextlib.suppress(TelegramError):
        await update.effective_chat.send_message(replies.TG_ERROR)


CONFLICT_REPORT_EVERY = 600.0  # seconds between two reports of the same lasting 409


def _report_conflict(context: BotContext) -> None:
    """409 from getUpdates: one line now, then at most one every ten minutes while it lasts."""
    now = time.monotonic()
    last = context.bot_data.get("conflict_reported_at")
    if last is not None and now - last < CONFLICT_REPORT_EVERY:
        return
    context.bot_data["conflict_reported_at"] = now
    logger.error("409 Conflict from getUpdates: another process polls this bot with the same "
                 "token; stop it (this one receives no updates meanwhile)")


# -- wiring ---------------------------------------------------------------------------------
def register_handlers(app: Application) -> None:
    """Register every handler, in priority order: this function is the bot's menu."""
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.COMMAND,
                                   ignore_edited_command), group=-2)
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
    app.add_handler(CommandHandler(CMD_ID, show_id))
    app.add_handler(CommandHandler(ROUTED_ADMIN_COMMANDS, run_admin_command,
                                   filters=filters.ChatType.PRIVATE))
    app.add_handler(CommandHandler(core_admin.CMD_RELOAD, reload_knowledge,
                                   filters=filters.ChatType.PRIVATE))
    app.add_handler(MessageHandler(NEW_MESSAGE & filters.COMMAND & filters.ChatType.PRIVATE,
                                   unknown_command))

    app.add_handler(CallbackQueryHandler(
        press_answer, pattern=f"^({CB_ANSWER}|{CB_TOPIC}):.|^({CB_NONE}|{CB_TOPICS})$"))
    app.add_handler(CallbackQueryHandler(press_feedback, pattern=f"^{CB_FEEDBACK}:[01]:."))
    app.add_handler(CallbackQueryHandler(press_more, pattern=f"^{CB_MORE}:."))
    app.add_handler(CallbackQueryHandler(
        press_in_private, pattern=f"^{CB_REGION}:.|^{CB_PLEDGE}$|^{CB_DELETE}:[yn]$"))
    app.add_handler(CallbackQueryHandler(press_admin, pattern=f"^{CB_ADMIN}:(ok|no|m|l):."))
    app.add_handler(CallbackQueryHandler(press_stale))

    app.add_handler(ChatMemberHandler(track_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(QUESTION, answer_question))
    app.add_handler(MessageHandler(NON_TEXT, ask_for_text))
    app.add_error_handler(report_error)
