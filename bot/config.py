"""Validated settings from the environment and an optional `.env` file; secrets stay out of logs."""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.models import ChatRef

PROJECT_DIR = Path(__file__).resolve().parent.parent
WHATSAPP_REQUIRED = ("WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET",
                     "WHATSAPP_VERIFY_TOKEN")
WHATSAPP_SECRETS = WHATSAPP_REQUIRED[1:]
MIN_SECRET_CHARS = 8  # shorter ones are guessable, and redacting them from logs garbles the logs
DEFAULT_BROADCAST_SENDER = "Tanya Netral"  # named in the header of every broadcast copy
TELEGRAM_MAX_RATE = 30.0  # messages a second Telegram accepts from one bot (about)
_URL = re.compile(r"^https?://[^/\s:]+(?::\d{1,5})?(?:/\S*)?$")
_TEMPLATE = re.compile(r"^(?P<name>[a-z0-9_]{1,512}):(?P<lang>[A-Za-z]{2,3}(?:_[A-Za-z]{2,4})?)$")


class ConfigError(ValueError):
    """Raised with every configuration problem found, one per line."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the process needs to start; built once by `load_settings`."""

    knowledge_dir: Path = PROJECT_DIR / "knowledge"
    db_path: Path = PROJECT_DIR / "data" / "tanya_netral.sqlite3"
    telegram_token: str | None = field(default=None, repr=False)
    telegram_base_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    admin_ids: frozenset[int] = frozenset()
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))
    broadcast_rate: float = 25.0
    broadcast_sender: str = DEFAULT_BROADCAST_SENDER
    broadcast_grace_minutes: int = 60
    flood_limit_per_minute: int = 20
    log_level: str = "INFO"
    whatsapp_phone_number_id: str | None = None
    whatsapp_access_token: str | None = field(default=None, repr=False)
    whatsapp_app_secret: str | None = field(default=None, repr=False)
    whatsapp_verify_token: str | None = field(default=None, repr=False)
    whatsapp_api_url: str | None = None
    whatsapp_webhook_listen: str = "0.0.0.0"
    whatsapp_webhook_port: int = 8080
    whatsapp_webhook_path: str = "/whatsapp"
    whatsapp_admin_numbers: frozenset[str] = frozenset()
    whatsapp_reminder_template: str | None = None  # "<name>:<language>", one body parameter
    whatsapp_rate: float = 20.0

    @property
    def model_cache(self) -> Path:
        """Where the trained answer scorer is kept between runs (beside the database)."""
        return self.db_path.parent / "models"

    @property
    def whatsapp_enabled(self) -> bool:
        """Whether the WhatsApp channel is configured (its four required settings are set)."""
        return bool(self.whatsapp_phone_number_id and self.whatsapp_access_token
                    and self.whatsapp_app_secret and self.whatsapp_verify_token)

    @property
    def reminder_template(self) -> tuple[str, str] | None:
        """The WhatsApp reminder template as (name, language code), if configured."""
        match = _TEMPLATE.match(self.whatsapp_reminder_template or "")
        return (match["name"], match["lang"]) if match else None

    def admins(self) -> tuple[ChatRef, ...]:
        """Every admin as a chat: Telegram user ids and WhatsApp numbers."""
        return (*(ChatRef.telegram(i) for i in sorted(self.admin_ids)),
                *(ChatRef.whatsapp(n) for n in sorted(self.whatsapp_admin_numbers)))

    def is_admin(self, user: ChatRef) -> bool:
        """Whether a user (a private chat) is on an admin allow-list."""
        return user in self.admins()


def config_warnings(settings: Settings) -> list[str]:
    """Settings that start but will misbehave, one line each (logged at start-up)."""
    warnings: list[str] = []
    if settings.telegram_token and settings.broadcast_rate > TELEGRAM_MAX_RATE:
        warnings.append(f"BROADCAST_RATE: {settings.broadcast_rate:g}/s is above Telegram's "
                        f"{TELEGRAM_MAX_RATE:g}/s; broadcasts will meet 429 Too Many Requests")
    return warnings


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a simple KEY=VALUE `.env` file (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = None
) -> Settings:
    """Build Settings from `.env` overlaid by the real environment; report all problems at once."""
    env = dict(read_dotenv(dotenv if dotenv is not None else PROJECT_DIR / ".env"))
    env.update(os.environ if environ is None else environ)
    errors: list[str] = []

    def text(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    def number(name: str, default: float, cast: type = int, top: float = math.inf) -> float:
        raw = text(name)
        if raw is None:
            return default
        try:
            value = cast(raw)
        except ValueError:
            errors.append(f"{name}: expected a number, got {raw!r}")
            return default
        if not (math.isfinite(value) and 0 < value <= top):
            limit = f" and at most {top:g}" if math.isfinite(top) else ""
            errors.append(f"{name}: must be a positive number{limit}, got {raw!r}")
            return default
        return value

    admin_ids: set[int] = set()
    for part in (text("ADMIN_IDS") or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            admin_ids.add(int(part))
        except ValueError:
            errors.append(f"ADMIN_IDS: {part!r} is not a numeric Telegram user id")

    tz_name = text("TIMEZONE") or "Asia/Jakarta"
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(f"TIMEZONE: unknown time zone {tz_name!r}")
        timezone = ZoneInfo("Asia/Jakarta")

    webhook_url = text("WEBHOOK_URL")
    webhook_secret = text("WEBHOOK_SECRET")
    if webhook_url and not webhook_url.startswith("https://"):
        errors.append("WEBHOOK_URL: must start with https://")
    if webhook_url and not webhook_secret:
        errors.append("WEBHOOK_SECRET: required when WEBHOOK_URL is set")

    whatsapp = {name: text(name) for name in WHATSAPP_REQUIRED}
    if any(whatsapp.values()):
        errors += [f"{name}: required when any WHATSAPP_ setting above is set"
                   for name, value in whatsapp.items() if not value]
    errors += [f"{name}: too short to be a secret (at least {MIN_SECRET_CHARS} characters)"
               for name in WHATSAPP_SECRETS
               if whatsapp[name] and len(whatsapp[name] or "") < MIN_SECRET_CHARS]
    base_url = text("TELEGRAM_BASE_URL")
    if base_url and not _URL.match(base_url):
        errors.append(f"TELEGRAM_BASE_URL: must be an http:// or https:// URL, got {base_url!r}")
    api_url = text("WHATSAPP_API_URL")
    if api_url and not re.match(r"^https?://[^/\s]+", api_url):
        errors.append("WHATSAPP_API_URL: must be an http:// or https:// URL")
    wa_path = text("WHATSAPP_WEBHOOK_PATH") or "/whatsapp"
    if not re.fullmatch(r"/[A-Za-z0-9/_.-]*", wa_path):
        errors.append("WHATSAPP_WEBHOOK_PATH: must start with / (letters, digits, / _ . -)")
    numbers: set[str] = set()
    for part in (text("WHATSAPP_ADMIN_NUMBERS") or "").replace(";", ",").split(","):
        number_text = part.strip().lstrip("+").replace(" ", "")
        if not number_text:
            continue
        if number_text.isdecimal() and 8 <= len(number_text) <= 15:
            numbers.add(number_text)
        else:
            errors.append(f"WHATSAPP_ADMIN_NUMBERS: {part.strip()!r} is not a phone number "
                          "in international form (e.g. 6281234567890)")
    template = text("WHATSAPP_REMINDER_TEMPLATE")
    if template and not _TEMPLATE.match(template):
        errors.append("WHATSAPP_REMINDER_TEMPLATE: expected <name>:<language>, "
                      "e.g. pengingat_netralitas:id")

    log_level = (text("LOG_LEVEL") or "INFO").upper()
    if log_level not in logging.getLevelNamesMapping():
        errors.append(f"LOG_LEVEL: unknown level {log_level!r} (use DEBUG, INFO, WARNING, ERROR)")
        log_level = "INFO"

    settings = Settings(
        knowledge_dir=Path(text("KNOWLEDGE_DIR") or PROJECT_DIR / "knowledge"),
        db_path=Path(text("DB_PATH") or PROJECT_DIR / "data" / "tanya_netral.sqlite3"),
        telegram_token=text("TELEGRAM_BOT_TOKEN"),
        telegram_base_url=base_url,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        webhook_listen=text("WEBHOOK_LISTEN") or "0.0.0.0",
        webhook_port=int(number("WEBHOOK_PORT", 8443, top=65535)),
        admin_ids=frozenset(admin_ids),
        timezone=timezone,
        broadcast_rate=float(number("BROADCAST_RATE", 25.0, float)),
        broadcast_sender=text("BROADCAST_SENDER") or DEFAULT_BROADCAST_SENDER,
        broadcast_grace_minutes=int(number("BROADCAST_GRACE_MINUTES", 60)),
        flood_limit_per_minute=int(number("FLOOD_LIMIT_PER_MINUTE", 20)),
        log_level=log_level,
        whatsapp_phone_number_id=whatsapp["WHATSAPP_PHONE_NUMBER_ID"],
        whatsapp_access_token=whatsapp["WHATSAPP_ACCESS_TOKEN"],
        whatsapp_app_secret=whatsapp["WHATSAPP_APP_SECRET"],
        whatsapp_verify_token=whatsapp["WHATSAPP_VERIFY_TOKEN"],
        whatsapp_api_url=api_url,
        whatsapp_webhook_listen=text("WHATSAPP_WEBHOOK_LISTEN") or "0.0.0.0",
        whatsapp_webhook_port=int(number("WHATSAPP_WEBHOOK_PORT", 8080, top=65535)),
        whatsapp_webhook_path=wa_path,
        whatsapp_admin_numbers=frozenset(numbers),
        whatsapp_reminder_template=template,
        whatsapp_rate=float(number("WHATSAPP_BROADCAST_RATE", 20.0, float, top=80)),
    )
    if errors:
        raise ConfigError("\n".join(errors))
    return settings
