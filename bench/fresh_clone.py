"""A new user's first minutes (bench part 6): clone, ``scripts/run``, "hi", the first reply.

    python -m bench.fresh_clone [--keep DIR]

The repository at HEAD is cloned into a temporary folder (committed files only: no ``.venv``,
no model, no database), and ``scripts/run`` starts there with no ``TELEGRAM_BOT_TOKEN`` and "hi"
already typed on its stdin, so it sets up (virtual environment, pinned stack from the package
index as this machine has it), trains the model and opens the terminal conversation. Measured:
seconds from the start to the reply to "hi", and what the terminal showed before it: lines, and
any line with a Python ``Warning``, a ``Traceback`` or a progress bar (issue 19's checks).
Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOISE = re.compile(r"Warning|Traceback|\d+%\||it/s\]|s/it\]|Epochs:|Processed (rules|trackers|actions)")
REPLY_MARK = "coach> "
MAX_LINES = 25


def clone(dest: Path) -> None:
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], check=True)


def first_reply(clone_dir: Path, timeout_s: float) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "LOG_LEVEL", "COACH_VERBOSE", "COACH_VAR_DIR",
                        "VIRTUAL_ENV", "PYTHONPATH")}
    started = time.monotonic()
    process = subprocess.Popen([str(clone_dir / "scripts" / "run")], cwd=clone_dir, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"hi\n")
    process.stdin.flush()
    output = bytearray()
    replied = threading.Event()
    reply_at: list[float] = []

    def read() -> None:
        assert process.stdout is not None
        while chunk := process.stdout.read1(4096):  # type: ignore[attr-defined]
            output.extend(chunk)
            if not replied.is_set() and REPLY_MARK.encode() in output and output.rstrip().endswith(b"you>"):
                reply_at.append(time.monotonic())
                replied.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    replied.wait(timeout_s)
    process.stdin.close()  # ends the conversation
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    reader.join(timeout=10)
    text = output.decode("utf-8", "replace")
    before = text.split(REPLY_MARK, 1)[0] if reply_at else text
    lines = [ln for ln in before.replace("\r", "\n").splitlines() if ln.strip()]
    noisy = [ln for ln in lines if NOISE.search(ln)]
    seconds = round(reply_at[0] - started, 1) if reply_at else None
    return {
        "ok": bool(reply_at) and not noisy and len(lines) <= MAX_LINES,
        "first_reply_s": seconds,
        "lines_before_reply": len(lines),
        "noisy_lines": noisy[:5],
        "replied": bool(reply_at),
        "output_tail": text[-600:] if not reply_at else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=900.0, help="give up waiting for the reply (s)")
    parser.add_argument("--keep", help="clone into this folder and keep it")
    args = parser.parse_args(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="coach-clone-"))
    dest = work / "clone"
    try:
        clone(dest)
        result = first_reply(dest, args.timeout)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
