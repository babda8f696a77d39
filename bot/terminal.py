"""What a person sees in the terminal during the long steps: stage lines and one live line.

* :func:`verbose` says whether the third-party output should be shown as it is (``LOG_LEVEL=DEBUG``,
  ``COACH_VERBOSE=1`` or ``--verbose``); otherwise it goes to a log file.
* :func:`output_to` sends everything written to file descriptors 1 and 2 (Python, Rasa,
  TensorFlow's C++ side, tqdm) into a log file for the length of a step, and hands back a stream
  to the real terminal for our own lines.
* :class:`LiveLine` keeps one line up to date on a terminal (stage, percent, time left); when the
  output is not a terminal it prints nothing, and the stage lines alone tell the story.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, TextIO


def verbose() -> bool:
    env = os.environ
    return env.get("LOG_LEVEL", "").upper() == "DEBUG" or env.get("COACH_VERBOSE", "") not in ("", "0")


@contextlib.contextmanager
def output_to(log_path: Path) -> Iterator[TextIO]:
    """Redirect fds 1 and 2 into ``log_path`` (appended); yield a stream to the old stderr."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_err), "w", buffering=1, encoding="utf-8", errors="replace")
    with open(log_path, "ab", buffering=0) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            terminal.close()


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s"


class LiveLine:
    """One self-updating line: ``  training the model  42%  about 1 min 10 s left``.

    The percent is the elapsed time over ``expected_s`` (the last training's duration), held
    below 100% until :meth:`close`; past the estimate it says so rather than count down to zero.
    """

    def __init__(self, stream: TextIO, label: str, expected_s: float, interval_s: float = 1.0) -> None:
        self.stream = stream
        self.label = label
        self.expected_s = max(1.0, expected_s)
        self.interval_s = interval_s
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def text(self, now: float | None = None) -> str:
        elapsed = (now if now is not None else time.monotonic()) - self.started
        percent = min(99, int(100 * elapsed / self.expected_s))
        left = self.expected_s - elapsed
        tail = f"about {format_duration(left)} left" if left >= 1 else "nearly done"
        return f"  {self.label}  {percent:3d}%  {tail}"

    def __enter__(self) -> "LiveLine":
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="live-line", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._write(self.text())

    def _write(self, line: str) -> None:
        try:
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: the log file still has everything
            self._stop.set()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._write("")
            self.stream.write("\r")
            self.stream.flush()
