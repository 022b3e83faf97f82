"""The Dockerfile builds the image the README describes and its command starts the bot.

There is no Docker daemon here, so the test reads the Dockerfile's instructions (a slim Python
base, a non-root user, an install from pyproject.toml, the data volume, the webhook ports) and
runs its CMD in this checkout's venv, as the container would from its WORKDIR, against the local
fake Bot API; `docker stop`'s signal (STOPSIGNAL) ends it cleanly.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from bot.config import Settings
from tests.conftest import ROOT
from tests.fake_bot_api import FakeBotApi
from tests.telegram_harness import run_until_polling

DOCKERFILE = ROOT / "Dockerfile"
STOP_TIMEOUT = 30  # seconds; `docker stop`'s default grace is 10, the bot needs far less


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; comments dropped, continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return [(i.upper(), rest.strip()) for i, _, rest in (line.partition(" ") for line in lines)]


def _all(name: str) -> list[str]:
    return [args for instruction, args in _instructions() if instruction == name]


def _one(name: str) -> str:
    (args,) = _all(name)
    return args


def _env() -> dict[str, str]:
    return dict(item.split("=", 1) for args in _all("ENV") for item in shlex.split(args))


def test_the_image_is_slim_python_installed_from_pyproject_and_not_root() -> None:
    base = _one("FROM")
    assert base.startswith("python:") and base.endswith("-slim"), base
    user = _one("USER")
    assert user not in ("root", "0")
    assert any(f" {user}" in run and "useradd" in run for run in _all("RUN"))
    assert any(args.split()[0] == "pyproject.toml" for args in _all("COPY"))
    assert "pip install ." in _all("RUN")
    # The user comes after every install step: the bot never runs as root.
    order = [instruction for instruction, _ in _instructions()]
    assert order.index("USER") > max(i for i, name in enumerate(order) if name == "RUN")


def test_the_data_folder_is_a_volume_and_the_webhook_ports_are_exposed() -> None:
    workdir = Path(_one("WORKDIR"))
    assert json.loads(_one("VOLUME")) == [str(workdir / "data")]
    assert Settings().db_path.parent.relative_to(ROOT) == Path("data")  # the default DB_PATH
    exposed = {int(port) for args in _all("EXPOSE") for port in args.split()}
    defaults = Settings()
    assert {defaults.whatsapp_webhook_port, defaults.webhook_port} <= exposed
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", "data/", ".venv/"} <= set(ignored)  # no secrets or database in the image


def test_the_cmd_starts_the_bot_and_stops_on_the_stop_signal(fake_api: FakeBotApi,
                                                             tmp_path: Path) -> None:
    command = json.loads(_one("CMD"))
    assert command == ["python", "main.py", "run"]
    code, output = run_until_polling([sys.executable, *command[1:]], ROOT, _env(), fake_api,
                                     tmp_path / "bot.sqlite3", _one("STOPSIGNAL"), STOP_TIMEOUT)
    assert code == 0, output
    assert "Traceback" not in output
