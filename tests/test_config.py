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


WHATSAPP = {"WHATSAPP_PHONE_NUMBER_ID": "1234567890", "WHATSAPP_ACCESS_TOKEN": "EAAG-SECRET",
            "WHATSAPP_APP_SECRET": "app-SECRET", "WHATSAPP_VERIFY_TOKEN": "verify-SECRET"}


def test_whatsapp_settings_are_read_and_their_secrets_hidden() -> None:
    settings = load_settings({**WHATSAPP, "WHATSAPP_ADMIN_NUMBERS": "+62 812 3456 7890, 6289999999",
                              "WHATSAPP_REMINDER_TEMPLATE": "pengingat_netralitas:id",
                              "WHATSAPP_API_URL": "http://127.0.0.1:9"}, dotenv=NO_DOTENV)
    assert settings.whatsapp_enabled and settings.whatsapp_webhook_path == "/whatsapp"
    assert settings.whatsapp_admin_numbers == frozenset({"6281234567890", "6289999999"})
    assert settings.reminder_template == ("pengingat_netralitas", "id")
    assert "SECRET" not in repr(settings)
    assert not load_settings({}, dotenv=NO_DOTENV).whatsapp_enabled


def test_whatsapp_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"WHATSAPP_ACCESS_TOKEN": "x" * 20, "WHATSAPP_VERIFY_TOKEN": "short",
                       "WHATSAPP_ADMIN_NUMBERS": "0812-abc",
                       "WHATSAPP_REMINDER_TEMPLATE": "Pengingat", "WHATSAPP_WEBHOOK_PATH": "wa",
                       "WHATSAPP_API_URL": "ftp://x", "WHATSAPP_BROADCAST_RATE": "500"},
                      dotenv=NO_DOTENV)
    lines = str(info.value).splitlines()
    assert any(line.startswith("WHATSAPP_VERIFY_TOKEN: too short") for line in lines)
    for name in ("WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
                 "WHATSAPP_ADMIN_NUMBERS", "WHATSAPP_REMINDER_TEMPLATE", "WHATSAPP_WEBHOOK_PATH",
                 "WHATSAPP_API_URL", "WHATSAPP_BROADCAST_RATE"):
        assert any(line.startswith(name) for line in lines), name
    assert not any(line.startswith("WHATSAPP_ACCESS_TOKEN") for line in lines)
