"""Run ``python -m bot say`` as a real process (helper for the tests)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_say(lines: list[str], timeout: float = 600, extra_env: dict[str, str] | None = None, user: str | None = None) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    env = dict(os.environ)
    env.update(extra_env or {})
    args = [sys.executable, "-m", "bot", "say"] + (["--user", user] if user else [])
    proc = subprocess.run(
        args, input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout
    )
    outputs = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return outputs, proc
