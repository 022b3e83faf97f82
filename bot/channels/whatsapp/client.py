"""pywa's async client, its HTTP session, and the FastAPI app that receives the webhook.

pywa always points its session at the Graph API (`https://graph.facebook.com/v<version>`); to
reach WHATSAPP_API_URL instead (a proxy, or the tests' fake) the session's transport rewrites
each request's scheme, host and port and prefixes the URL's path — pywa's public way, through
the `session` it accepts.

The webhook is pywa's FastAPI integration: the verification handshake (`hub.verify_token` must
equal WHATSAPP_VERIFY_TOKEN) and every POST's `X-Hub-Signature-256` checked against
WHATSAPP_APP_SECRET (unsigned: 422, wrongly signed: 403, neither processed). pywa answers 200
first and runs the handlers on the event loop right after, one update at a time per request.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pywa_async import WhatsApp

from bot.config import Settings

API_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
POOL = httpx.Limits(max_connections=32, max_keepalive_connections=16)


class RewritingTransport(httpx.AsyncBaseTransport):
    """Send every request to another base URL (scheme, host, port and a path prefix)."""

    def __init__(self, base_url: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.base = httpx.URL(base_url.rstrip("/"))
        self.inner = inner or httpx.AsyncHTTPTransport(limits=POOL)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Rewrite the URL (and Host header), then hand the request to the real transport."""
        request.url = request.url.copy_with(
            scheme=self.base.scheme, host=self.base.host, port=self.base.port,
            raw_path=self.base.raw_path.rstrip(b"/") + request.url.raw_path)
        request.headers["Host"] = self.base.netloc.decode("ascii")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the real transport's connections."""
        await self.inner.aclose()


def graph_session(api_url: str | None) -> httpx.AsyncClient:
    """The HTTP session pywa uses: the Graph API, or WHATSAPP_API_URL when set."""
    transport = RewritingTransport(api_url) if api_url else httpx.AsyncHTTPTransport(limits=POOL)
    return httpx.AsyncClient(transport=transport, timeout=API_TIMEOUT)


def build_client(settings: Settings) -> tuple[WhatsApp, FastAPI, httpx.AsyncClient]:
    """pywa's client for the settings, its webhook routes on a new FastAPI app, its session."""
    if not settings.whatsapp_enabled:
        raise ValueError("WhatsApp is not configured (WHATSAPP_PHONE_NUMBER_ID …)")
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    session = graph_session(settings.whatsapp_api_url)
    client = WhatsApp(
        phone_id=settings.whatsapp_phone_number_id,
        token=settings.whatsapp_access_token,
        session=session,
        server=app,
        webhook_endpoint=settings.whatsapp_webhook_path,
        verify_token=settings.whatsapp_verify_token,
        app_secret=settings.whatsapp_app_secret,
        validate_updates=True,
        filter_updates=True,  # only updates for our phone number id
        continue_handling=False,
    )
    return client, app, session
