"""The systemd unit in deploy/ starts the bot as written and stops it cleanly with its signal.

Its ExecStart runs from its WorkingDirectory (mapped to this checkout) against the local fake
Bot API; a configuration error exits 2, which the unit does not restart.
"""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from tests.conftest import ROOT
from tests.fake_bot_api import FakeBotApi
from tests.telegram_harness import run_until_polling

UNIT = ROOT / "deploy" / "tanya-netral.service"
INSTALL_DIR = "/opt/tanya-netral"


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT, encoding="utf-8")
    return parser["Service"]


def test_the_unit_starts_the_bot_and_stops_on_its_kill_signal(fake_api: FakeBotApi,
                                                              tmp_path: Path) -> None:
    service = _service()
    command = shlex.split(service["ExecStart"].replace(INSTALL_DIR, str(ROOT)))
    cwd = service["WorkingDirectory"].replace(INSTALL_DIR, str(ROOT))
    unit_env = dict(item.split("=", 1) for item in shlex.split(service["Environment"]))
    code, output = run_until_polling(command, Path(cwd), unit_env, fake_api,
                                     tmp_path / "bot.sqlite3", service["KillSignal"],
                                     float(service["TimeoutStopSec"]))
    assert code == 0, output
    assert "Traceback" not in output


def test_a_start_up_error_is_not_restarted() -> None:
    service = _service()
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"].split() == ["2"]  # main.py's start-up errors
