"""Settings: every problem reported at once; secrets never in repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

NO_DOTENV = Path("/nonexistent/.env")


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"BROADCAST_RATE": "nan", "LOG_LEVEL": "loud", "WEBHOOK_PORT": "99999",
                       "ADMIN_IDS": "12, abc", "WEBHOOK_URL": "http://x", "TIMEZONE": "Mars/Base"},
                      dotenv=NO_DOTENV)
    lines = str(info.value).splitlines()
    for name in ("BROADCAST_RATE", "LOG_LEVEL", "WEBHOOK_PORT", "ADMIN_IDS", "WEBHOOK_URL",
                 "WEBHOOK_SECRET", "TIMEZONE"):
        assert any(line.startswith(name) for line in lines), name


def test_token_and_secret_stay_out_of_repr() -> None:
    settings = load_settings({"TELEGRAM_BOT_TOKEN": "123:SECRET", "ADMIN_IDS": "7;8",
                              "WEBHOOK_URL": "https://bot.example", "WEBHOOK_SECRET": "s3cr3t"},
                             dotenv=NO_DOTENV)
    assert settings.telegram_token == "123:SECRET"
    assert settings.admin_ids == frozenset({7, 8})
    assert "SECRET" not in repr(settings) and "s3cr3t" not in repr(settings)
