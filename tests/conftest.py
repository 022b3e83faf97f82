"""Shared fixtures: the real knowledge base and dialogue (loaded once per session)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase, load_knowledge
from bot.store import Store
from tests.fake_bot_api import FakeBotApi

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE_DIR = ROOT / "knowledge"
SHARED_DIR = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The real knowledge base from knowledge/."""
    return load_knowledge(KNOWLEDGE_DIR)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A copy of knowledge/ in a temporary folder, for tests that edit the KB."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite store in a fresh file."""
    opened = Store(tmp_path / "store.sqlite3")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def dialogue(kb: KnowledgeBase) -> Dialogue:
    """A dialogue over the real knowledge base."""
    return Dialogue(kb)


@pytest.fixture
def fake_api() -> Iterator[FakeBotApi]:
    """A local fake Telegram Bot API server on 127.0.0.1 (free port), stopped after the test."""
    with FakeBotApi() as api:
        yield api
