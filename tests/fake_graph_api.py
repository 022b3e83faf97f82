"""A local fake of the WhatsApp Cloud API (Graph API) for end-to-end tests and benchmarks.

The real pywa client talks HTTP to this server (WHATSAPP_API_URL, through the session's
rewriting transport), so tests exercise pywa's request layer and error parsing exactly as in
production, and assert on what the "WhatsApp side" received. The other direction — WhatsApp
calling our webhook — is `Webhook`: it builds the Cloud API's update payloads and POSTs them
signed with the app secret (`X-Hub-Signature-256`), as Meta does.

The server is a stdlib `ThreadingHTTPServer` on 127.0.0.1 with a free port in a daemon thread.
All state sits behind one `threading.Condition`; `wait_for` blocks on it until a matching request
was recorded, so nothing sleeps blindly. Errors can be injected per recipient or for every send
(the Cloud API's JSON error body with its code: 131047, 131026, 130429 …), an optional rate limit
answers 130429 past a throughput and 131056 past a per-user pair rate, and `slow_down` delays
the answers (the request is recorded first: like WhatsApp, the message is delivered even if the
client is gone by the time the answer would arrive).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

TOKEN = "EAAG-test-access-token"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
PHONE_NUMBER_ID = "1234567890"
DISPLAY_NUMBER = "6281100000000"
WABA_ID = "9876543210"


@dataclass(frozen=True, slots=True)
class GraphError:
    """An error answer of the Cloud API."""

    code: int
    message: str
    status: int = 400

    def body(self) -> dict[str, Any]:
        """The JSON body the Graph API sends for this error."""
        return {"error": {"message": self.message, "type": "OAuthException", "code": self.code,
                          "error_data": {"messaging_product": "whatsapp",
                                         "details": self.message},
                          "fbtrace_id": "AbCdEf"}}


def re_engagement() -> GraphError:
    """131047: more than 24 hours since the user's last message; only a template goes."""
    return GraphError(131047, "Re-engagement message")


def undeliverable() -> GraphError:
    """131026: the user cannot receive the message (not on WhatsApp, blocked the business …)."""
    return GraphError(131026, "Message Undeliverable")


def rate_limited() -> GraphError:
    """130429: the number's throughput was exceeded."""
    return GraphError(130429, "Rate limit hit")


def pair_rate_limited() -> GraphError:
    """131056: too many messages to the same user in a short time."""
    return GraphError(131056, "(Business Account, Consumer Account) pair rate limit hit")


def server_error() -> GraphError:
    """A 5xx from Meta's side."""
    return GraphError(131000, "Something went wrong", status=500)


@dataclass(frozen=True, slots=True)
class SentRequest:
    """One recorded call: path, JSON body, arrival time, what was answered."""

    method: str
    path: str
    body: dict[str, Any]
    at: float
    status: int = 200
    message_id: str | None = None

    @property
    def to(self) -> str | None:
        """The recipient's wa_id."""
        return self.body.get("to")

    @property
    def type(self) -> str | None:
        """text, interactive or template."""
        return self.body.get("type")

    @property
    def ok(self) -> bool:
        """Whether the fake answered with success."""
        return self.status == 200

    @property
    def text(self) -> str:
        """The text the user sees: a text's body, an interactive's body, a template's parameter."""
        if self.type == "text":
            return self.body["text"]["body"]
        if self.type == "interactive":
            return self.body["interactive"]["body"]["text"]
        if self.type == "template":
            components = self.body["template"].get("components") or []
            return " ".join(p.get("text", "") for c in components for p in c.get("parameters", []))
        return ""

    @property
    def template(self) -> str | None:
        """The template's name, for template messages."""
        return self.body["template"]["name"] if self.type == "template" else None

    def choices(self) -> list[tuple[str, str]]:
        """(id, title) of every reply button or list row of an interactive message."""
        if self.type != "interactive":
            return []
        action = self.body["interactive"]["action"]
        if "buttons" in action:
            return [(b["reply"]["id"], b["reply"]["title"]) for b in action["buttons"]]
        return [(r["id"], r["title"]) for s in action["sections"] for r in s["rows"]]

    @property
    def interactive_type(self) -> str | None:
        """button or list."""
        return self.body["interactive"]["type"] if self.type == "interactive" else None


@dataclass(slots=True)
class _Rule:
    error: GraphError
    to: str | None
    remaining: int | None
    types: frozenset[str] | None = None

    def matches(self, to: str | None, kind: str | None) -> bool:
        return ((self.to is None or self.to == to)
                and (self.types is None or kind in self.types)
                and (self.remaining is None or self.remaining > 0))


@dataclass
class FakeGraphApi:
    """The fake server (see the module docstring). Use as a context manager."""

    token: str = TOKEN
    phone_number_id: str = PHONE_NUMBER_ID
    _requests: list[SentRequest] = field(default_factory=list)
    _rules: list[_Rule] = field(default_factory=list)
    _delay: float = 0.0
    _overall_limit: int | None = None
    _pair_limit: tuple[int, float] | None = None
    _recent: deque[float] = field(default_factory=deque)
    _recent_by_user: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _condition: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeGraphApi:
        """Listen on a free loopback port in a daemon thread."""
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-graph-api")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeGraphApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The root URL, for WHATSAPP_API_URL."""
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting ------------------------------------------------------------------------------
    def fail(self, error: GraphError, to: str | None = None, times: int | None = 1,
             types: set[str] | None = None) -> None:
        """Answer the next `times` sends (to `to`, of these message types) with `error`."""
        with self._condition:
            self._rules.append(_Rule(error, to, times, frozenset(types) if types else None))

    def clear_failures(self) -> None:
        """Forget every injected failure."""
        with self._condition:
            self._rules.clear()

    def slow_down(self, seconds: float) -> None:
        """Hold every answer back `seconds` after recording the request."""
        self._delay = seconds

    def rate_limit(self, per_second: int | None = 80,
                   pair: tuple[int, float] | None = None) -> None:
        """Answer 130429 past `per_second` sends a second, 131056 past `pair` = (n, seconds)."""
        with self._condition:
            self._overall_limit, self._pair_limit = per_second, pair
            self._recent.clear()  # count from now on
            self._recent_by_user.clear()

    # -- inspection -----------------------------------------------------------------------------
    def mark(self) -> int:
        """A position in the request log, for `since=`."""
        with self._condition:
            return len(self._requests)

    def requests(self, since: int = 0) -> list[SentRequest]:
        """Every recorded request after `since`."""
        with self._condition:
            return self._requests[since:]

    def sent(self, to: str | None = None, since: int = 0) -> list[SentRequest]:
        """Successful sends (to one user), in order."""
        return [r for r in self.requests(since) if r.ok and (to is None or r.to == to)]

    def wait_for(self, predicate: Callable[[SentRequest], bool], timeout: float = 10.0,
                 since: int = 0) -> SentRequest:
        """Block until a recorded request after `since` matches; return it."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for request in self._requests[since:]:
                    if predicate(request):
                        return request
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching request in {timeout} s; got "
                                       f"{[(r.to, r.type, r.text[:30]) for r in self._requests]}")
                self._condition.wait(left)

    def wait_for_count(self, predicate: Callable[[SentRequest], bool], count: int,
                       timeout: float = 10.0, since: int = 0) -> list[SentRequest]:
        """Block until `count` recorded requests after `since` match; return them."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                found = [r for r in self._requests[since:] if predicate(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(found)} of {count} matching requests in {timeout} s")
                self._condition.wait(left)

    def wait_for_reply(self, to: str, since: int = 0, timeout: float = 10.0,
                       contains: str | None = None) -> SentRequest:
        """Block until a successful send to `to` (containing `contains`) after `since`."""
        return self.wait_for(lambda r: r.ok and r.to == to
                             and (contains is None or contains in r.text), timeout, since)

    # -- serving --------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str],
               body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one API call (runs in a server thread)."""
        if headers.get("authorization") != f"Bearer {self.token}":
            error = GraphError(190, "Invalid OAuth access token", status=401)
            self._record(method, path, body, error.status)
            return error.status, error.body()
        if method != "POST" or not path.endswith(f"/{self.phone_number_id}/messages"):
            self._record(method, path, body, 404)
            return 404, GraphError(100, "Unsupported request").body()
        error = self._injected(body.get("to"), body.get("type"))
        if error is not None:
            self._record(method, path, body, error.status)
            return error.status, error.body()
        message_id = f"wamid.fake{next(self._ids):08d}"
        self._record(method, path, body, 200, message_id)
        return 200, {"messaging_product": "whatsapp",
                     "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                     "messages": [{"id": message_id}]}

    def _injected(self, to: str | None, kind: str | None) -> GraphError | None:
        with self._condition:
            for rule in self._rules:
                if rule.matches(to, kind):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule.error
            now = time.monotonic()
            if self._overall_limit is not None:
                while self._recent and self._recent[0] <= now - 1.0:
                    self._recent.popleft()
                if len(self._recent) >= self._overall_limit:
                    return rate_limited()
            if self._pair_limit is not None and to:
                count, window = self._pair_limit
                recent = self._recent_by_user[to]
                while recent and recent[0] <= now - window:
                    recent.popleft()
                if len(recent) >= count:
                    return pair_rate_limited()
                recent.append(now)
            self._recent.append(now)
        return None

    def _record(self, method: str, path: str, body: dict[str, Any], status: int,
                message_id: str | None = None) -> None:
        with self._condition:
            self._requests.append(SentRequest(method, path, body, time.perf_counter(), status,
                                              message_id))
            self._condition.notify_all()


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # bursts of connections (benchmarks) must not be reset


class _Handler(BaseHTTPRequestHandler):
    api: FakeGraphApi
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"raw": raw.decode("utf-8", "replace")}
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer = self.api.handle(method, self.path, headers, body)
        if self.api._delay:
            time.sleep(self.api._delay)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


# -- the webhook side: what Meta POSTs to us ----------------------------------------------------
def signature(body: bytes, secret: str = APP_SECRET) -> str:
    """The `X-Hub-Signature-256` header value Meta sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _envelope(value: dict[str, Any]) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": DISPLAY_NUMBER,
                          "phone_number_id": PHONE_NUMBER_ID}, **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}]}


def _contact(wa_id: str) -> dict[str, Any]:
    # Since the business-scoped user ids (BSUID) the Cloud API names a user both ways.
    return {"profile": {"name": "Pengguna"}, "wa_id": wa_id, "user_id": f"ID.{wa_id}"}


def _incoming(wa_id: str, message: dict[str, Any]) -> dict[str, Any]:
    return _envelope({"contacts": [_contact(wa_id)],
                      "messages": [{"from": wa_id, "timestamp": str(int(time.time())),
                                    **message}]})


class Webhook:
    """Build the Cloud API's webhook updates and POST them, signed, to our server."""

    def __init__(self, url: str, secret: str = APP_SECRET) -> None:
        self.url = url
        self.secret = secret
        self.client = httpx.Client(timeout=10.0)
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def message_id(self) -> str:
        """A fresh id for an incoming message."""
        return f"wamid.in{next(self._ids):08d}"

    def text(self, wa_id: str, text: str, message_id: str | None = None) -> dict[str, Any]:
        """A text message from a user."""
        return _incoming(wa_id, {"id": message_id or self.message_id(), "type": "text",
                                 "text": {"body": text}})

    def sticker(self, wa_id: str) -> dict[str, Any]:
        """A sticker (not text)."""
        return _incoming(wa_id, {"id": self.message_id(), "type": "sticker",
                                 "sticker": {"id": "123", "mime_type": "image/webp",
                                             "sha256": "x", "animated": False}})

    def button(self, wa_id: str, data: str, title: str, context: str) -> dict[str, Any]:
        """A reply-button press under our message `context`."""
        return _incoming(wa_id, {"id": self.message_id(), "type": "interactive",
                                 "context": {"from": DISPLAY_NUMBER, "id": context},
                                 "interactive": {"type": "button_reply",
                                                 "button_reply": {"id": data, "title": title}}})

    def row(self, wa_id: str, data: str, title: str, context: str) -> dict[str, Any]:
        """A list-row selection under our message `context`."""
        return _incoming(wa_id, {"id": self.message_id(), "type": "interactive",
                                 "context": {"from": DISPLAY_NUMBER, "id": context},
                                 "interactive": {"type": "list_reply",
                                                 "list_reply": {"id": data, "title": title}}})

    @staticmethod
    def status(wa_id: str, message_id: str, status: str,
               error: GraphError | None = None) -> dict[str, Any]:
        """A delivery receipt (sent, delivered, read, failed) for our message."""
        item: dict[str, Any] = {"id": message_id, "status": status,
                                "timestamp": str(int(time.time())), "recipient_id": wa_id}
        if error is not None:
            item["errors"] = [{"code": error.code, "title": error.message,
                               "message": error.message,
                               "error_data": {"details": error.message}}]
        return _envelope({"contacts": [_contact(wa_id)], "statuses": [item]})

    def post(self, update: dict[str, Any], signed: bool = True,
             secret: str | None = None) -> httpx.Response:
        """POST an update as Meta does (signed with the app secret unless told otherwise)."""
        body = json.dumps(update).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            headers["X-Hub-Signature-256"] = signature(body, secret or self.secret)
        return self.client.post(self.url, content=body, headers=headers)
