"""Learning from real traffic: an admin attaches a missed question to the right intent.

The question goes, without its author, into `knowledge/learned.yaml` (a reviewed KB file the
operator keeps in git), where it counts as one more phrasing of that intent. The edit is
validated by loading the whole knowledge base; a question that would break it (for example,
the same phrasing under another intent) leaves the file as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import yaml

from bot.knowledge import LEARNED_FILE, KnowledgeBase, KnowledgeError, load_knowledge

MAX_LEARNED_CHARS = 500


class LearnError(ValueError):
    """The question cannot be attached; the message says why (for the admin)."""


def attach(knowledge_dir: Path, question: str, intent_id: str,
           today: dt.date) -> KnowledgeBase:
    """Append `question` as a phrasing of `intent_id`; return the knowledge base with it.

    Raises:
        LearnError: the intent is unknown, the text is empty or too long, or the knowledge base
            would not load with it (the file is then left unchanged).
    """
    question = " ".join(question.split())
    if not question:
        raise LearnError("pertanyaannya kosong")
    if len(question) > MAX_LEARNED_CHARS:
        raise LearnError(f"pertanyaannya lebih dari {MAX_LEARNED_CHARS} karakter")
    path = Path(knowledge_dir) / LEARNED_FILE
    before = path.read_text(encoding="utf-8") if path.is_file() else ""
    entry = yaml.safe_dump([{"q": question, "intent": intent_id, "added": today}],
                           allow_unicode=True, sort_keys=False, width=1000)
    body = before.replace("phrasings: []", "phrasings:")
    if "phrasings:" not in body:
        body = body + ("" if body.endswith("\n") or not body else "\n") + "phrasings:\n"
    body = body + ("" if body.endswith("\n") else "\n")
    body += "".join(f"  {line}\n" for line in entry.splitlines())
    _write(path, body)
    try:
        kb = load_knowledge(Path(knowledge_dir))
    except KnowledgeError as exc:
        if before:
            _write(path, before)
        else:
            path.unlink(missing_ok=True)
        learned = [p for p in exc.problems if LEARNED_FILE in p.file or question in p.reason]
        raise LearnError("; ".join(p.reason for p in learned or exc.problems[:1])) from None
    return kb


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".learned-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
