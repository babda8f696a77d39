"""Run-time configuration, read once from the environment.

Every setting has a default that works on one laptop with no network: SQLite under ``var/``,
an action server the bot starts itself on a free local port, no Telegram.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.db import PROJECT_ROOT, VAR_DIR, default_database_url

# Rasa reads these at import time: no telemetry, no outbound connection at start.
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

MODELS_DIR = PROJECT_ROOT / "models"
# config.yml names this path relative to the project root, so it does not follow COACH_VAR_DIR.
SPACY_PIPELINE_DIR = PROJECT_ROOT / "var" / "spacy_kb"


@dataclass(frozen=True)
class Settings:
    database_url: str
    action_server_url: str | None  # set: use that server; unset: start our own
    action_server_port: int  # 0: any free port
    action_timeout_s: float
    telegram_token: str | None
    telegram_base_url: str | None
    redis_url: str | None
    admin_ids: frozenset[str] = field(default_factory=frozenset)
    log_level: str = "WARNING"
    workers: int = 1  # Rasa worker processes behind the Telegram front end (bot run)

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            database_url=default_database_url(),
            action_server_url=env.get("ACTION_SERVER_URL") or None,
            action_server_port=int(env.get("ACTION_SERVER_PORT", "0") or 0),
            action_timeout_s=float(env.get("ACTION_TIMEOUT", "10") or 10),
            telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_base_url=env.get("TELEGRAM_BASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            admin_ids=frozenset(x.strip() for x in env.get("ADMIN_IDS", "").split(",") if x.strip()),
            log_level=env.get("LOG_LEVEL", "WARNING").upper(),
            workers=_positive_int(env, "COACH_WORKERS", 1),
        )


def _positive_int(env: "os._Environ[str]", name: str, default: int) -> int:
    from bot.errors import CoachError

    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise CoachError(f"{name} must be a whole number of at least 1 (got {raw!r})")
    return int(raw)


def project_path(*parts: str) -> Path:
    return PROJECT_ROOT.joinpath(*parts)


def quiet_terminal() -> None:
    """Keep Python warnings and third-party progress bars off the terminal unless asked for
    (``LOG_LEVEL=DEBUG``, ``COACH_VERBOSE=1`` or ``--verbose``). Warnings go through logging
    (logger ``py.warnings``) and are kept only at ERROR; call this before Rasa is imported."""
    import logging

    from bot.terminal import verbose

    if verbose():
        return
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.ERROR)
    os.environ.setdefault("TQDM_DISABLE", "1")  # tqdm bars whose caller does not pass disable=
