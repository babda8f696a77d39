"""What every benchmark shares: child processes (bounded waits, clean stops, peak RSS),
percentiles, the machine's description, the current model and a throw-away database."""
from __future__ import annotations

import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable  # run as .venv/bin/python: children use the same interpreter
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"

# A token in the shape Telegram uses (digits:35 chars), known to the fake only.
BENCH_TOKEN = "123456:TEST-fake-token-for-tests-only"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- numbers --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": _round(percentile(ms, 50)),
        "p95_ms": _round(percentile(ms, 95)),
        "p99_ms": _round(percentile(ms, 99)),
        "max_ms": _round(max(ms) if ms else None),
        "mean_ms": _round(sum(ms) / len(ms) if ms else None),
    }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def max_in_window(instants: Sequence[float], window_s: float = 1.0) -> int:
    """The most events inside any window of ``window_s`` seconds (sliding)."""
    ordered = sorted(instants)
    best = start = 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


# --- the machine ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_total = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": mem_total,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "loadavg_at_start": [round(x, 2) for x in load] if load else None,
    }


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("rasa", "rasa-sdk", "python-telegram-bot", "SQLAlchemy", "tensorflow", "aiohttp"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


# --- the model ------------------------------------------------------------------------------


def wait_for_model(max_wait_s: float = 1800.0, poll_s: float = 30.0) -> Path | None:
    """The current model (``bot.training.current_model()``). The benchmark never trains: while
    there is none (the lead retrains), poll every ``poll_s`` seconds, at most ``max_wait_s``."""
    from bot.training import current_model

    deadline = time.monotonic() + max_wait_s
    while True:
        model = current_model()
        if model is not None:
            return model
        if time.monotonic() + poll_s > deadline:
            return None
        log(f"no up-to-date model yet (someone is training?); checking again in {poll_s:.0f}s")
        time.sleep(poll_s)


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (127.0.0.1)
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    for key in ("ACTION_SERVER_URL", "REDIS_URL", "TELEGRAM_WEBHOOK_URL", "ACTION_SERVER_PORT"):
        env.pop(key, None)
    env.update(extra or {})
    return env


@dataclass
class Child:
    """A child process in its own session, with its log file; stopped with SIGTERM, then SIGKILL."""

    name: str
    args: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=child_env)
    cwd: Path = PROJECT_ROOT
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    peak_rss_mib: float | None = None
    descendants_peak_rss_mib: dict[str, float] = field(default_factory=dict)
    _names: dict[int, str] = field(default_factory=dict)

    def start(self) -> "Child":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            self.args, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout_s: float, poll_s: float = 0.2) -> float:
        """Seconds from start until ``ready()``; raises if the child exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return time.monotonic() - self.started_at
            if not self.alive():
                raise RuntimeError(f"{self.name} exited (code {self.process.returncode}); see {self.log_path}")
            time.sleep(poll_s)
        raise RuntimeError(f"{self.name} not ready within {timeout_s:.0f}s; see {self.log_path}")

    def sample_memory(self) -> None:
        """Record the peak RSS (VmHWM) of the child and of every descendant, by command."""
        if not self.alive():
            return
        self.peak_rss_mib = peak_rss_mib(self.pid)
        for pid in descendants(self.pid):
            value = peak_rss_mib(pid)
            if value is None:
                continue
            if pid not in self._names:  # one stable, distinct name per process (two workers)
                name = command_name(pid)
                taken = set(self._names.values())
                n = 2
                unique = name
                while unique in taken:
                    unique, n = f"{name} #{n}", n + 1
                self._names[pid] = unique
            name = self._names[pid]
            self.descendants_peak_rss_mib[name] = max(value, self.descendants_peak_rss_mib.get(name, 0.0))

    def stop(self, timeout_s: float = 20.0) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                # Only this child's own process group (it runs in a new session).
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        self._log.close()

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(children)
            stack.extend(children)
    return found


def command_name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        words = [a.decode(errors="replace") for a in argv if a]
        if "-m" in words:
            return words[words.index("-m") + 1]
        if "-c" in words:  # multiprocessing's children
            code = words[words.index("-c") + 1]
            if "spawn_main" in code:
                return "coach worker"
            if "resource_tracker" in code:
                return "multiprocessing resource tracker"
        return " ".join(Path(words[0]).name.split()[:1]) if words else str(pid)
    except OSError:
        return str(pid)


# --- databases ------------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    """Create the schema and load the knowledge base into a fresh database."""
    from knowledge.db import create_all, make_engine
    from knowledge.loader import load

    engine = make_engine(url)
    try:
        create_all(engine)
        report = load(engine)
        if not report.ok:
            raise RuntimeError(f"knowledge base does not load: {len(report.problems)} problem(s)")
    finally:
        engine.dispose()


def onboard(url: str, user_ids: Sequence[str]) -> None:
    """Onboard ``user_ids`` as if each had answered the onboarding form (no reminder)."""
    from knowledge import coaching
    from knowledge.db import make_engine

    engine = make_engine(url)
    try:
        for user in user_ids:
            coaching.save_onboarding(
                engine, user, goal="take the load off my lower back", equipment=["none", "band"],
                experience="beginner", baseline_pain=2, timezone="UTC",
            )
            coaching.pause_reminders(engine, user)
    finally:
        engine.dispose()


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
