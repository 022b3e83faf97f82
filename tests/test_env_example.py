"""`.env.example` documents every setting `load_settings` reads, and loads as it is."""

from __future__ import annotations

import re

from bot.config import load_settings, read_dotenv
from tests.conftest import ROOT

EXAMPLE = ROOT / ".env.example"


def test_every_setting_is_documented() -> None:
    source = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r'(?:text|number)\("([A-Z_]+)"', source))
    assert read <= set(read_dotenv(EXAMPLE))


def test_the_example_loads_with_defaults_and_holds_no_secret() -> None:
    settings = load_settings(environ={}, dotenv=EXAMPLE)
    assert settings.telegram_token is None and settings.webhook_secret is None
