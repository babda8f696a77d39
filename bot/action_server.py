"""Start, health-check and stop rasa-sdk's action server.

Rasa Open Source runs custom actions only over HTTP, so ``chat``, ``say`` and ``run`` start the
server as a child process and stop it on exit. Set ``ACTION_SERVER_URL`` to use one that runs
elsewhere (Rasa's action-server contract is unchanged, so it can live on another machine).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.errors import CoachError
from knowledge.db import PROJECT_ROOT, VAR_DIR

log = logging.getLogger(__name__)


def die_with_parent() -> None:
    """Ask Linux for SIGTERM when the parent process dies (runs in the child: before exec for the
    action server, first thing in a Rasa worker)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the bot's own stop() still ends the server on a normal exit
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_healthy(url: str, timeout: float = 1.0) -> bool:
    """True when the action server at ``url`` (…/webhook) answers its /health endpoint."""
    health = url.rsplit("/webhook", 1)[0] + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout) as response:  # noqa: S310 (local URL)
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ActionServer:
    """A rasa-sdk action server child process bound to 127.0.0.1."""

    def __init__(self, port: int = 0, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path = VAR_DIR / "action_server.log"
        self.restarts = 0  # how often supervise() brought it back

    def start(self, timeout_s: float = 60.0) -> "ActionServer":
        """Launch the server and wait until it answers."""
        return self.launch().wait_ready(timeout_s)

    def launch(self) -> "ActionServer":
        """Launch the server without waiting, so the caller can load its model meanwhile."""
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(self._env or {})
        env.setdefault("RASA_TELEMETRY_ENABLED", "false")
        # The child writes its own log file; the bot's terminal stays for the conversation.
        log_file = open(self._log_path, "ab")  # noqa: SIM115 (closed in stop)
        self._log_file = log_file
        self._process = subprocess.Popen(
            [sys.executable, "-m", "actions.server", "--port", str(self.port), "--host", "127.0.0.1"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # If the bot dies without stopping us (SIGKILL), the kernel ends the action server too.
            preexec_fn=die_with_parent,
        )
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> "ActionServer":
        if self._process is None:
            raise CoachError("the action server was not launched")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise CoachError(
                    f"the action server exited at start (code {self._process.returncode}); "
                    f"see {self._log_path}"
                )
            if is_healthy(self.url, timeout=0.5):
                log.info("action server ready on port %s", self.port)
                return self
            time.sleep(0.2)
        self.stop()
        raise CoachError(f"the action server did not answer within {timeout_s:.0f}s; see {self._log_path}")

    def stop(self, timeout_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._log_file.close()

    async def supervise(
        self, *, poll_s: float = 0.5, first_delay_s: float = 1.0, max_delay_s: float = 30.0,
        stable_s: float = 60.0,
    ) -> None:
        """Watch the child and start it again, on the same port, whenever it dies (until
        ``stop()``): after ``first_delay_s``, doubling up to ``max_delay_s`` while it keeps
        dying, back to ``first_delay_s`` once it has stayed up ``stable_s``. Each death is an
        ERROR line in the log. Messages meanwhile get ResilientCoach's apology; the first one
        after it answers again is handled normally.

        Runs as a task in the bot's event loop, so the child is started from the main thread:
        PR_SET_PDEATHSIG (die_with_parent) is tied to the thread that started it."""
        delay = first_delay_s
        up_since = time.monotonic()
        while True:
            await asyncio.sleep(poll_s)
            process = self._process
            if process is None:
                return  # stopped
            code = process.poll()
            if code is None:
                if time.monotonic() - up_since >= stable_s:
                    delay = first_delay_s
                continue
            self.restarts += 1
            log.error(
                "action server on port %s exited (code %s); starting it again in %.0fs (restart %d)",
                self.port, code, delay, self.restarts,
            )
            await asyncio.sleep(delay)
            if self._process is not process:
                return  # stopped meanwhile
            self._log_file.close()
            try:
                self.launch()
            except OSError as exc:  # could not even fork: try again after the next delay
                log.error("could not start the action server again: %s", exc)
                self._process = process
            up_since = time.monotonic()
            delay = min(delay * 2, max_delay_s)

    def __enter__(self) -> "ActionServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def log_path(self) -> Path:
        return self._log_path
