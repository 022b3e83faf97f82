"""A local fake Telegram Bot API server for end-to-end tests and benchmarks.

The real python-telegram-bot `Application` talks HTTP to this server (through `base_url`), so
tests exercise PTB's request layer, polling loop, handlers and our code exactly as in production,
and assert on what the "Telegram side" received.

It runs a stdlib `ThreadingHTTPServer` on 127.0.0.1 with a free port in a daemon thread. All
state sits behind one `threading.Condition`: `getUpdates` long-polls on it (honouring `timeout`)
and `wait_for` blocks on it until a matching request has been recorded, so nothing sleeps
blindly. Failures can be injected per call or per chat (429 with `retry_after`, 403 blocked,
400 chat not found, 5xx), an optional Telegram-like rate limit answers 429 when a chat gets
more than one message a second or the bot more than thirty, and `slow_down` delays the answers
to a method (the request is recorded first: like Telegram, the message is delivered even if the
client is gone by the time the answer would arrive). Texts sent with `parse_mode` HTML are
parsed as Telegram does (`parse_html`): malformed markup is refused with "can't parse
entities", and the recorded text is the one the user sees, with its entities.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN = "123456:TEST-token-for-the-fake-api"
BOT_ID = 123456
BOT_USERNAME = "TanyaNetralBot"
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendChatAction",
                          "copyMessage", "forwardMessage"})
_TEXT_PARAMS = frozenset({"text", "caption", "callback_query_id", "url", "secret_token",
                          "parse_mode", "action", "inline_message_id", "description",
                          "short_description", "name", "language_code", "query"})


@dataclass(frozen=True, slots=True)
class ApiError:
    """An error answer of the Bot API."""

    status: int
    description: str
    retry_after: int | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        data: dict[str, Any] = {"ok": False, "error_code": self.status,
                                "description": self.description}
        if self.retry_after is not None:
            data["parameters"] = {"retry_after": self.retry_after}
        return data


def too_many_requests(retry_after: int = 1) -> ApiError:
    """429 with `parameters.retry_after`, as Telegram sends when flooded."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


def blocked_by_user() -> ApiError:
    """403: the user blocked the bot."""
    return ApiError(403, "Forbidden: bot was blocked by the user")


def chat_not_found() -> ApiError:
    """400: the chat does not exist (or the bot never talked to it)."""
    return ApiError(400, "Bad Request: chat not found")


def not_modified() -> ApiError:
    """400 to an edit that changes nothing (e.g. the same button tapped twice)."""
    return ApiError(400, "Bad Request: message is not modified: specified new message content "
                         "and reply markup are exactly the same as a current content and reply "
                         "markup of the message")


def conflict() -> ApiError:
    """409 to getUpdates: another client polls with the same token."""
    return ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only "
                         "one bot instance is running")


def server_error(status: int = 502) -> ApiError:
    """A 5xx from Telegram's side."""
    return ApiError(status, HTTPStatus(status).phrase)


@dataclass(slots=True)
class _FailureRule:
    error: ApiError
    method: str | None
    chat_id: int | None
    remaining: int | None  # None: forever

    def matches(self, method: str, chat_id: int | None) -> bool:
        return ((self.method is None or self.method == method)
                and (self.chat_id is None or self.chat_id == chat_id)
                and (self.remaining is None or self.remaining > 0))


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One recorded call: method, decoded parameters, arrival time and what was answered."""

    method: str
    params: dict[str, Any]
    at: float                       # time.perf_counter() on arrival
    status: int = 200
    result: Any = None              # the `result` of a successful answer

    @property
    def chat_id(self) -> int | None:
        """The target chat, if the method has one."""
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str | None:
        """The text the user sees (sendMessage, editMessageText, answerCallbackQuery): the
        `text` parameter, parsed when sent with `parse_mode` HTML."""
        return self._parsed()[0]

    def entities(self) -> list[dict[str, Any]]:
        """The formatting entities of an HTML text (UTF-16 offsets, as Telegram gives them)."""
        return self._parsed()[1]

    def bold(self) -> list[str]:
        """The bold parts of the text, in order."""
        units = (self.text or "").encode("utf-16-le")
        return [units[2 * e["offset"]:2 * (e["offset"] + e["length"])].decode("utf-16-le")
                for e in self.entities() if e["type"] == "bold"]

    def _parsed(self) -> tuple[str | None, list[dict[str, Any]]]:
        raw = self.params.get("text")
        if raw is None or self.params.get("parse_mode") != "HTML":
            return raw, []
        try:
            return parse_html(raw)
        except ValueError:
            return raw, []

    @property
    def ok(self) -> bool:
        """Whether the fake answered with success."""
        return self.status == 200

    def button_rows(self) -> list[list[dict[str, Any]]]:
        """The inline keyboard sent with the message (empty if none)."""
        markup = self.params.get("reply_markup") or {}
        return markup.get("inline_keyboard", [])

    def buttons(self) -> list[dict[str, Any]]:
        """All inline buttons, row by row."""
        return [b for row in self.button_rows() for b in row]

    def button_labels(self) -> list[str]:
        """Labels of all inline buttons."""
        return [b["text"] for b in self.buttons()]

    def button_data(self) -> list[str]:
        """Callback data of all inline buttons."""
        return [b.get("callback_data", "") for b in self.buttons()]


class FakeBotApi:
    """The fake Bot API server; use as a context manager or call `start()`/`stop()`."""

    def __init__(self, token: str = TOKEN, bot_id: int = BOT_ID,
                 username: str = BOT_USERNAME) -> None:
        self.token = token
        self.bot = {"id": bot_id, "is_bot": True, "first_name": "Tanya Netral",
                    "username": username, "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False}
        self._cond = threading.Condition()
        self._requests: list[ApiRequest] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._failures: list[_FailureRule] = []
        self._commands: list[dict[str, Any]] = []
        self._rate_overall: int | None = None
        self._rate_per_chat: int | None = None
        self._delays: dict[str, float] = {}
        self._sends: deque[float] = deque()
        self._chat_sends: defaultdict[int, deque[float]] = defaultdict(deque)
        self._closed = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FakeBotApi:
        """Listen on 127.0.0.1 with a free port and serve in a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.api = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-bot-api",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake pending long polls, stop serving and close the socket."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server root, as TELEGRAM_BASE_URL would be set (`http://127.0.0.1:<port>`)."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- failures and rate limits -----------------------------------------------------------
    def fail(self, error: ApiError, method: str | None = None, chat_id: int | None = None,
             times: int | None = 1) -> None:
        """Answer the next `times` matching calls (None: all of them) with `error`."""
        with self._cond:
            self._failures.append(_FailureRule(error, method, chat_id, times))

    def block(self, chat_id: int) -> None:
        """From now on, every send to `chat_id` fails with 403 (the user blocked the bot)."""
        for method in SEND_METHODS:
            self.fail(blocked_by_user(), method=method, chat_id=chat_id, times=None)

    def clear_failures(self) -> None:
        """Remove every injected failure."""
        with self._cond:
            self._failures.clear()

    def slow_down(self, seconds: float, method: str = "sendMessage") -> None:
        """Answer every `method` call `seconds` after recording it (0 = at once again)."""
        with self._cond:
            self._delays[method] = seconds

    def delay(self, method: str) -> float:
        """Seconds the answer to `method` is held back (see `slow_down`)."""
        with self._cond:
            return self._delays.get(method, 0.0)

    def rate_limit(self, overall_per_second: int | None = 30,
                   per_chat_per_second: int | None = 1) -> None:
        """Enforce Telegram-like send limits (429, retry_after=1); None disables a limit."""
        with self._cond:
            self._rate_overall, self._rate_per_chat = overall_per_second, per_chat_per_second

    # -- building updates ---------------------------------------------------------------------
    @staticmethod
    def user(user_id: int) -> dict[str, Any]:
        """A user object (no profile data beyond a placeholder name)."""
        return {"id": user_id, "is_bot": False, "first_name": f"Pengguna {user_id}",
                "language_code": "id"}

    def chat(self, chat_id: int) -> dict[str, Any]:
        """The chat object for an id: negative ids are supergroups, positive ones private."""
        with self._cond:
            return self._chat_locked(chat_id)

    def _chat_locked(self, chat_id: int) -> dict[str, Any]:
        if chat_id not in self._chats:
            self._chats[chat_id] = (
                {"id": chat_id, "type": "supergroup", "title": f"Grup {chat_id}"} if chat_id < 0
                else {"id": chat_id, "type": "private", "first_name": f"Pengguna {chat_id}"})
        return self._chats[chat_id]

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the server: updates queued inside the block reach the bot in one getUpdates."""
        with self._cond:
            yield

    def enqueue(self, update: dict[str, Any]) -> int:
        """Queue a raw update (its `update_id` is assigned here) and wake the long poll."""
        with self._cond:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    def _message(self, chat_id: int, user_id: int | None, **fields: Any) -> dict[str, Any]:
        with self._cond:
            return {"message_id": next(self._message_ids), "date": int(time.time()),
                    "chat": self._chat_locked(chat_id),
                    "from": self.user(user_id if user_id is not None else abs(chat_id)),
                    **fields}

    def text_message(self, chat_id: int, text: str, user_id: int | None = None,
                     reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        """Build a user's text message; commands and @mentions get their entities."""
        fields: dict[str, Any] = {"text": text}
        entities = _entities(text)
        if entities:
            fields["entities"] = entities
        if reply_to is not None:
            fields["reply_to_message"] = reply_to
        return self._message(chat_id, user_id, **fields)

    def send_text(self, chat_id: int, text: str, user_id: int | None = None,
                  reply_to: dict[str, Any] | None = None) -> int:
        """Queue a user's text message (see `text_message`); return its update id."""
        return self.enqueue({"message": self.text_message(chat_id, text, user_id, reply_to)})

    def edit_text(self, message: dict[str, Any], text: str) -> int:
        """Queue an `edited_message` update: the user changed a message's text to `text`."""
        fields: dict[str, Any] = {"text": text, "edit_date": int(time.time())}
        entities = _entities(text)
        edited = {k: v for k, v in message.items() if k != "entities"}
        return self.enqueue({"edited_message": {**edited, **fields,
                                                **({"entities": entities} if entities else {})}})

    def send_command(self, chat_id: int, command: str, user_id: int | None = None) -> int:
        """A `/command` message (give it without the slash)."""
        return self.send_text(chat_id, f"/{command}", user_id)

    def send_media(self, chat_id: int, kind: str = "sticker", user_id: int | None = None,
                   caption: str | None = None) -> int:
        """A non-text message: sticker, photo, voice, document, location or contact."""
        file = {"file_id": f"file-{kind}", "file_unique_id": f"u-{kind}"}
        payloads: dict[str, Any] = {
            "sticker": {**file, "type": "regular", "width": 512, "height": 512,
                        "is_animated": False, "is_video": False, "emoji": "👍"},
            "photo": [{**file, "width": 90, "height": 90}],
            "voice": {**file, "duration": 3},
            "document": {**file, "file_name": "surat.pdf"},
            "location": {"latitude": -6.2, "longitude": 106.8},
            "contact": {"phone_number": "0800", "first_name": "X"},
        }
        fields: dict[str, Any] = {kind: payloads[kind]}
        if caption:
            fields["caption"] = caption
        return self.enqueue({"message": self._message(chat_id, user_id, **fields)})

    def press(self, message: dict[str, Any] | ApiRequest, data: str,
              user_id: int | None = None) -> int:
        """A user presses an inline button with callback `data` under a bot message."""
        if isinstance(message, ApiRequest):
            message = message.result
        chat_id = message["chat"]["id"]
        with self._cond:
            message = self._messages.get((chat_id, message["message_id"]), message)
            query_id = str(next(self._callback_ids))
        return self.enqueue({"callback_query": {
            "id": query_id, "from": self.user(user_id if user_id is not None else abs(chat_id)),
            "chat_instance": f"ci-{chat_id}", "data": data, "message": message}})

    def member_status(self, chat_id: int, new: str, old: str = "member",
                      user_id: int | None = None) -> int:
        """A `my_chat_member` update: the bot's status in a chat changed (e.g. to "kicked")."""

        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"status": status, "user": self.bot}
            if status == "kicked":
                data["until_date"] = 0
            return data

        return self.enqueue({"my_chat_member": {
            "chat": self.chat(chat_id), "date": int(time.time()),
            "from": self.user(user_id if user_id is not None else abs(chat_id)),
            "old_chat_member": member(old), "new_chat_member": member(new)}})

    # -- inspecting -------------------------------------------------------------------------
    def mark(self) -> int:
        """A cursor: the number of requests recorded so far (pass it as `since`)."""
        with self._cond:
            return len(self._requests)

    def requests(self, method: str | None = None, since: int = 0) -> list[ApiRequest]:
        """Recorded requests (optionally of one method) from cursor `since` on."""
        with self._cond:
            return [r for r in self._requests[since:] if method is None or r.method == method]

    def sent(self, chat_id: int | None = None, since: int = 0) -> list[ApiRequest]:
        """Successful sendMessage calls (optionally to one chat) from `since` on."""
        return [r for r in self.requests("sendMessage", since)
                if r.ok and (chat_id is None or r.chat_id == chat_id)]

    def wait_for(self, predicate: Callable[[ApiRequest], bool], timeout: float = 5.0,
                 since: int = 0) -> ApiRequest:
        """Block until a request matching `predicate` is recorded (from `since` on) and return it.

        Raises:
            TimeoutError: With the methods seen, if none matched within `timeout` seconds.
        """
        return self.wait_for_count(predicate, 1, timeout, since)[0]

    def wait_for_count(self, predicate: Callable[[ApiRequest], bool], count: int,
                       timeout: float = 5.0, since: int = 0) -> list[ApiRequest]:
        """Block until `count` matching requests were recorded from `since` on; return them."""
        found: list[ApiRequest] = []

        def enough() -> bool:
            found[:] = [r for r in self._requests[since:] if predicate(r)]
            return len(found) >= count

        with self._cond:
            if not self._cond.wait_for(enough, timeout):
                seen = [f"{r.method}({r.chat_id})" for r in self._requests[since:]
                        if r.method != "getUpdates"]
                raise TimeoutError(f"{len(found)}/{count} matching requests after {timeout}s; "
                                   f"seen: {seen[-20:]}")
            return found[:count]

    def wait_for_message(self, chat_id: int, since: int = 0, timeout: float = 5.0,
                         contains: str | None = None) -> ApiRequest:
        """Block until a successful sendMessage to `chat_id` (optionally containing text)."""
        return self.wait_for(
            lambda r: (r.method == "sendMessage" and r.ok and r.chat_id == chat_id
                       and (contains is None or contains in (r.text or ""))),
            timeout, since)

    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot's next getUpdates offset."""
        with self._cond:
            return len(self._updates)

    def commands(self) -> list[dict[str, Any]]:
        """The command menu last set with setMyCommands."""
        with self._cond:
            return list(self._commands)

    # -- serving (called from handler threads) ------------------------------------------------
    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call and record it."""
        arrived = time.perf_counter()
        with self._cond:
            polled_error = self._polling_error() if method == "getUpdates" else None
        if polled_error is not None:
            status, body, result = polled_error.status, polled_error.body(), None
        elif method == "getUpdates":
            result: Any = self._get_updates(params)
            status, body = 200, {"ok": True, "result": result}
        else:
            with self._cond:
                error = self._injected_error(method, params)
                if error is not None:
                    status, body, result = error.status, error.body(), None
                else:
                    handler = getattr(self, f"_api_{method}", None)
                    if handler is None:
                        status, result = 404, None
                        body = {"ok": False, "error_code": 404,
                                "description": "Not Found: method not found"}
                    else:
                        outcome = handler(params)
                        if isinstance(outcome, ApiError):
                            status, body, result = outcome.status, outcome.body(), None
                        else:
                            status, result = 200, outcome
                            body = {"ok": True, "result": outcome}
        with self._cond:
            self._requests.append(ApiRequest(method, params, arrived, status, result))
            self._cond.notify_all()
        return status, body

    def _polling_error(self) -> ApiError | None:
        """An injected getUpdates failure (only rules naming getUpdates: 409, 5xx …)."""
        for rule in self._failures:
            if rule.method == "getUpdates" and rule.matches("getUpdates", None):
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule.error
        return None

    def _injected_error(self, method: str, params: dict[str, Any]) -> ApiError | None:
        chat_id = _int_or_none(params.get("chat_id"))
        for rule in self._failures:
            if rule.matches(method, chat_id):
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule.error
        if method in SEND_METHODS and method != "sendChatAction":
            return self._rate_limited(chat_id)
        return None

    def _rate_limited(self, chat_id: int | None) -> ApiError | None:
        if self._rate_overall is None and self._rate_per_chat is None:
            return None
        now = time.monotonic()
        while self._sends and self._sends[0] <= now - 1:
            self._sends.popleft()
        if self._rate_overall is not None and len(self._sends) >= self._rate_overall:
            return too_many_requests(1)
        if chat_id is not None and self._rate_per_chat is not None:
            sends = self._chat_sends[chat_id]
            while sends and sends[0] <= now - 1:
                sends.popleft()
            if len(sends) >= self._rate_per_chat:
                return too_many_requests(1)
            sends.append(now)
        self._sends.append(now)
        return None

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _int_or_none(params.get("offset")) or 0
        limit = _int_or_none(params.get("limit")) or 100
        timeout = float(params.get("timeout") or 0)
        with self._cond:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._cond.wait_for(lambda: self._closed or bool(self._updates), timeout)
            return [] if self._closed else self._updates[:limit]

    # Bot API methods (called with the lock held) ------------------------------------------
    def _api_getMe(self, params: dict[str, Any]) -> Any:
        return self.bot

    def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        return True

    def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {"url": "", "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        self._commands = list(params.get("commands") or [])
        return True

    def _api_getMyCommands(self, params: dict[str, Any]) -> Any:
        return self._commands

    def _api_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        self._commands = []
        return True

    def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = _int_or_none(params.get("chat_id"))
        if chat_id is None or "text" not in params:
            return ApiError(400, "Bad Request: chat_id and text are required")
        shown = _shown_text(params, "message is too long")
        if isinstance(shown, ApiError):
            return shown
        text, entities = shown
        message: dict[str, Any] = {"message_id": next(self._message_ids),
                                   "date": int(time.time()), "chat": self._chat_locked(chat_id),
                                   "from": self.bot, "text": text}
        if entities:
            message["entities"] = entities
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _edit(self, params: dict[str, Any], **changes: Any) -> Any:
        chat_id = _int_or_none(params.get("chat_id"))
        message_id = _int_or_none(params.get("message_id"))
        message = self._messages.get((chat_id or 0, message_id or 0))
        if message is None:
            return ApiError(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup") or None
        if (all(message.get(k) == v for k, v in changes.items())
                and message.get("reply_markup") == markup):
            return not_modified()
        message.update(changes)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return dict(message)

    def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        shown = _shown_text(params, "MESSAGE_TOO_LONG")
        if isinstance(shown, ApiError):
            return shown
        text, entities = shown
        return self._edit(params, text=text, entities=entities or None)

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        return self._edit(params)

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    def _api_sendChatAction(self, params: dict[str, Any]) -> Any:
        return True

    def _api_deleteMessage(self, params: dict[str, Any]) -> Any:
        key = (_int_or_none(params.get("chat_id")) or 0, _int_or_none(params.get("message_id")))
        self._messages.pop(key, None)  # type: ignore[arg-type]
        return True

    def _api_close(self, params: dict[str, Any]) -> Any:
        return True

    def _api_logOut(self, params: dict[str, Any]) -> Any:
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.telegram.org
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    def do_POST(self) -> None:
        api: FakeBotApi = self.server.api  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        prefix = f"/bot{api.token}/"
        if not parts.path.startswith(prefix):
            self._reply(401 if parts.path.startswith("/bot") else 404,
                        {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        method = parts.path[len(prefix):]
        params = dict(_decode(k, v) for k, v in parse_qsl(parts.query))
        params.update(_parse_body(self.headers.get("Content-Type", ""), raw))
        status, body = api.handle(method, params)
        delay = api.delay(method)
        if delay > 0:
            time.sleep(delay)  # this connection's own thread: other requests go on meanwhile
        self._reply(status, body)

    do_GET = do_POST

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. shutdown)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; tests assert on recorded requests instead."""


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        return json.loads(raw)
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        params: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name and not part.get_filename():
                params[name] = _decode(name, part.get_content())[1]
        return params
    return dict(_decode(k, v) for k, v in parse_qsl(raw.decode("utf-8"), keep_blank_values=True))


def _decode(key: str, value: str) -> tuple[str, Any]:
    """PTB sends non-string parameters JSON-encoded (numbers, markup, lists)."""
    if key in _TEXT_PARAMS:
        return key, value
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


# Telegram's HTML: these tags (and no others), entities &lt; &gt; &amp; &quot; and numeric ones.
_HTML_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
              "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
              "del": "strikethrough", "a": "text_link", "code": "code", "pre": "pre",
              "tg-spoiler": "spoiler", "blockquote": "blockquote"}
_HTML_TOKEN = re.compile(r"<(/?)([A-Za-z][\w-]*)([^<>]*)>|&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);"
                         r"|[<&]")
_HREF = re.compile(r"""^\s+href\s*=\s*(?:"([^"]*)"|'([^']*)')\s*$""")


def parse_html(markup: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse a `parse_mode` HTML text as Telegram does: the text shown and its entities.

    Raises:
        ValueError: with Telegram's description, for markup Telegram refuses (an unknown or
            unclosed tag, a closing tag that closes nothing, a bare '<' or '&').
    """
    text: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, Any]]] = []
    at = 0

    def offset() -> int:
        return _utf16_len("".join(text))

    for match in _HTML_TOKEN.finditer(markup):
        text.append(markup[at:match.start()])
        at = match.end()
        closing, name, attrs, entity = match.groups()
        if entity:
            text.append(html.unescape(match[0]))
            continue
        if not name:
            raise ValueError(f"Can't parse entities: unexpected {match[0]!r} at byte offset "
                             f"{len(markup[:match.start()].encode())}")
        name = name.lower()
        if name not in _HTML_TAGS:
            raise ValueError(f'Can\'t parse entities: unsupported start tag "{name}"')
        if closing:
            if not stack or stack[-1][0] != name:
                raise ValueError(f'Can\'t parse entities: unmatched end tag "{name}"')
            _, start, extra = stack.pop()
            if offset() > start:
                entities.append({"type": _HTML_TAGS[name], "offset": start,
                                 "length": offset() - start, **extra})
            continue
        extra: dict[str, Any] = {}
        if name == "a":
            href = _HREF.match(attrs)
            if href is None:
                raise ValueError("Can't parse entities: a link needs an href")
            extra = {"url": html.unescape(href[1] if href[1] is not None else href[2])}
        elif attrs.strip():
            raise ValueError(f'Can\'t parse entities: unexpected attributes on "{name}"')
        stack.append((name, offset(), extra))
    if stack:
        raise ValueError(f'Can\'t parse entities: can\'t find end tag corresponding to start '
                         f'tag "{stack[-1][0]}"')
    text.append(markup[at:])
    return "".join(text), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _shown_text(params: dict[str, Any],
                too_long: str) -> tuple[str, list[dict[str, Any]]] | ApiError:
    """A send's or an edit's text as the user sees it and its entities, or Telegram's 400 for
    bad markup or (with the method's own wording) a text over 4,096 characters."""
    shown: tuple[str, list[dict[str, Any]]] = (str(params.get("text", "")), [])
    if params.get("parse_mode") == "HTML":
        try:
            shown = parse_html(shown[0])
        except ValueError as exc:
            return ApiError(400, f"Bad Request: {exc}")
    return ApiError(400, f"Bad Request: {too_long}") if len(shown[0]) > 4096 else shown


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _entities(text: str) -> list[dict[str, Any]]:
    """Bot-command and @mention entities, with Telegram's UTF-16 offsets."""
    entities: list[dict[str, Any]] = []
    for start, word in _words(text):
        if start == 0 and word.startswith("/") and len(word) > 1:
            kind = "bot_command"
        elif word.startswith("@") and len(word) > 1:
            kind = "mention"
        else:
            continue
        entities.append({"type": kind, "offset": _utf16_len(text[:start]),
                         "length": _utf16_len(word)})
    return entities


def _words(text: str) -> Iterator[tuple[int, str]]:
    start = None
    for i, char in enumerate(f"{text} "):
        if char.isspace():
            if start is not None:
                yield start, text[start:i].rstrip(",.!?;:")
                start = None
        elif start is None:
            start = i

