"""Secrets out of logs: a filter that replaces them in every record a handler emits.

Tokens can reach a log line through library messages (a failed request's URL carries the
Telegram token) or tracebacks; every channel installs the filter for its secrets at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable


class TokenRedactor(logging.Filter):
    """Replace a secret in every log record (URLs of failed requests can contain the token)."""

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


def install_log_hygiene(secrets: Iterable[str | None], handlers: Iterable[logging.Handler]) -> None:
    """Quiet httpx/httpcore request logs and redact every secret from the given log handlers."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    handlers = list(handlers)
    for secret in secrets:
        if secret:
            for handler in handlers:
                handler.addFilter(TokenRedactor(secret))
