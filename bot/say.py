"""``python -m bot say``: scripted use. One message per input line, one JSON line per message.

A line is plain text (from ``--user``) or a JSON object ``{"user": "...", "text": "..."}``.
A line that cannot be read gets a JSON error line; the other lines still run.
"""
from __future__ import annotations

import json
import sys
from typing import IO, Any

from bot.turns import Coach


def parse_line(line: str, default_user: str) -> tuple[str, str]:
    """(user, text) from an input line; ValueError with a short reason when it cannot be read."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(f"malformed JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise ValueError('a JSON line needs a "text" string')
        user = data.get("user", default_user)
        if not isinstance(user, (str, int)) or str(user) == "":
            raise ValueError('"user" must be a non-empty string')
        return str(user), data["text"]
    return default_user, stripped


async def run_say(coach: Coach, lines: IO[str], out: IO[str], default_user: str) -> int:
    """Handle every line; return how many lines failed."""
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result: dict[str, Any]
        try:
            user, text = parse_line(line, default_user)
        except ValueError as exc:
            failures += 1
            result = {"line": number, "error": str(exc)}
        else:
            try:
                result = (await coach.handle(user, text)).to_json()
            except Exception as exc:  # one bad turn must not stop the script
                failures += 1
                result = {"line": number, "user": user, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return failures
