"""Split long texts into chat-sized messages (Telegram and WhatsApp both stop at 4,096 chars)."""

from __future__ import annotations

from bot.models import MAX_MESSAGE_CHARS

_SEPARATORS = ("\n\n", "\n", " ")


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split `text` into parts of at most `limit` characters, preferring paragraph boundaries.

    Paragraphs (blank-line separated) are packed greedily; a paragraph longer than the limit is
    split on line breaks, then on spaces, and only as a last resort inside a word. No
    non-whitespace character is lost or reordered; whitespace-only parts are dropped.

    Returns:
        At least one part (an empty text gives `[""]`).
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text]
    return _split(text, limit, 0)


def _split(text: str, limit: int, level: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    if level == len(_SEPARATORS):
        return [text[i:i + limit] for i in range(0, len(text), limit)]
    separator = _SEPARATORS[level]
    parts: list[str] = []
    current = ""
    for piece in text.split(separator):
        pieces = [piece] if len(piece) <= limit else _split(piece, limit, level + 1)
        for small in pieces:
            candidate = f"{current}{separator}{small}" if current else small
            if current and len(candidate) > limit:
                parts.append(current)
                current = small
            else:
                current = candidate
    if current or not parts:
        parts.append(current)
    return [p for p in parts if p.strip()] or [text[:limit]]
