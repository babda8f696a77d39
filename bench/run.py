"""The coach's benchmarks in one command; prints a table and writes bench/results/latest.json.

    .venv/bin/python -m bench.run            # the full run (about 10-15 minutes on 2 cores)
    .venv/bin/python -m bench.run --quick    # a small smoke run (a few users and messages)

What it measures (docs/benchmarks.md explains each number and the targets):

1. Per-message latency (p50/p95/p99) and throughput with 1, 10 and 50 simulated users through
   the whole stack (fake Telegram -> bot -> Rasa -> action server -> DB -> reply), beside the
   same messages sent to plain ``rasa run`` over its REST webhook; the ratio of the p95s.
   A second bot process with the Telegram rate limits off shows the stack's own capacity.
2. Reminder fan-out: N due reminders sent by one scheduler worker, unthrottled and at
   Telegram's 30 messages/s (reminders/s, duplicates, losses).
3. Start-up to first reply, training from scratch (into a temporary folder, Rasa's cache off;
   models/ is never touched), peak RSS of every process, knowledge-base query times.
4. Targets: pass or miss, never an assertion.

Never trains the model it measures (or anything in models/): without an up-to-date one it waits
(polling every 30 s, bounded). The training benchmark trains a separate copy in a temp folder.
Everything runs on 127.0.0.1 with temporary databases; nothing under var/ is written.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import re
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    PROJECT_ROOT,
    RESULTS_DIR,
    log,
    machine,
    package_versions,
    wait_for_model,
    write_json,
)

TARGETS = {
    "p95_ratio_max": 1.5,
    "throughput_50_users_min": 40.0,
    "reminders_unthrottled_min": 200.0,
    "reminders_throttled_min": 29.0,
    "first_reply_max_s": 30.0,
    "startup_trained_max_s": 10.0,  # issue 19: an already-trained bot answers within 10 s of start
    "training_max_s": 90.0,  # issue 19 (was 300): median of --training-runs
    "fresh_clone_first_reply_max_s": 240.0,  # issue 19: clone, scripts/run, "hi", first reply
}
START_CHAT = 1_000
PLAIN_START_SENDER = 2_000


def parse_levels(text: str) -> list[Any]:
    from bench.fullstack import Level

    levels = []
    for part in text.split(","):
        users, _, messages = part.partition(":")
        levels.append(Level(int(users), int(messages or 10)))
    return levels


def first_chat(level_index: int) -> int:
    return 100_000 * (level_index + 1)


# --- the parts ------------------------------------------------------------------------------


async def run_messages(args: argparse.Namespace, model: Path, work: Path) -> dict[str, Any]:
    from bench.fullstack import PlainRasa, TelegramStack, level_mix

    levels = parse_levels(args.levels)
    onboarded = [first_chat(i) + u for i, level in enumerate(levels) for u in range(level.users)]
    out: dict[str, Any] = {
        "levels": [{"users": lv.users, "messages_per_user": lv.messages_per_user, "mix": level_mix(lv)} for lv in levels],
        "think_s": args.think_s,
        "bot_workers": args.bot_workers,
        "runs": [],
        "startup_s": {},
        "peak_rss_mib": {},
    }
    stacks: list[Any] = [TelegramStack(work, model, unthrottled=False, think_s=args.think_s, workers=args.bot_workers)]
    if not args.skip_unthrottled:
        stacks.append(TelegramStack(work, model, unthrottled=True, think_s=args.think_s, workers=args.bot_workers))
    if not args.skip_plain:
        stacks.append(PlainRasa(work, model, think_s=args.think_s))
    for stack in stacks:
        try:
            if isinstance(stack, PlainRasa):
                await stack.start(onboarded, PLAIN_START_SENDER, start_timeout_s=args.start_timeout)
            else:
                await stack.start(onboarded, START_CHAT, start_timeout_s=args.start_timeout)
            out["startup_s"][stack.name] = stack.startup_s
            for i, level in enumerate(levels):
                if getattr(stack, "unthrottled", False) and level.users not in args.unthrottled_users:
                    continue
                log(f"{stack.name}: {level.users} user(s) x {level.messages_per_user} message(s)")
                result = await stack.load(level, first_chat(i))
                summary = result.summary()
                out["runs"].append(summary)
                log(f"  p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, "
                    f"{summary['throughput_msg_s']} msg/s, {summary['no_reply']} without reply")
        except Exception as exc:  # report what broke, keep the other parts
            log(f"{stack.name}: failed: {exc}")
            out.setdefault("errors", []).append(f"{stack.name}: {exc}")
        finally:
            await stack.stop()
            out["peak_rss_mib"].update({f"{k} [{stack.name}]" if "bot" in k else k: v for k, v in stack.memory().items()})
    return out


async def run_reminders(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from bench.fanout import run_fanout

    out: dict[str, Any] = {}
    for key, n, rate in (("unthrottled", args.reminders, None), ("throttled", args.throttled_reminders, 30.0)):
        if n <= 0:
            continue
        try:
            out[key] = await run_fanout(n, rate, work, timeout_s=args.fanout_timeout)
        except Exception as exc:
            log(f"reminders {key}: failed: {exc}")
            out[key] = {"error": str(exc)}
    return out


def run_kb_queries(runs: int) -> dict[str, Any]:
    """bench/kb_queries.py's own run (its main), its table parsed."""
    from bench import kb_queries

    buffer = io.StringIO()
    saved = sys.argv
    sys.argv = ["kb_queries.py", "--runs", str(runs)]
    try:
        with contextlib.redirect_stdout(buffer):
            code = kb_queries.main()
    finally:
        sys.argv = saved
    text = buffer.getvalue()
    queries = {}
    for line in text.splitlines():
        match = re.match(r"^(.{45}) +([\d.]+) +([\d.]+) +([\d.]+)$", line)
        if match:
            queries[match.group(1).strip()] = {
                "min_us": float(match.group(2)), "median_us": float(match.group(3)), "max_us": float(match.group(4)),
            }
    slowest = re.search(r"slowest median: ([\d.]+) us", text)
    loads = re.search(r"first load ([\d.]+) ms; reload \(no change\) median ([\d.]+) ms; KnowledgeBase.load median ([\d.]+) ms", text)
    return {
        "exit_code": code,
        "runs_per_query": runs,
        "queries": queries,
        "slowest_median_us": float(slowest.group(1)) if slowest else None,
        "first_load_ms": float(loads.group(1)) if loads else None,
        "reload_ms": float(loads.group(2)) if loads else None,
        "kb_load_ms": float(loads.group(3)) if loads else None,
    }


def measure_training(work: Path, timeout_s: float, runs: int = 3) -> dict[str, Any]:
    """Train from scratch ``runs`` times, one after another; the median run's figures, and all
    the wall times."""
    import statistics

    results = []
    for index in range(runs):
        result = _train_once(work / f"training-{index}", timeout_s, f"{index + 1}/{runs}")
        if result.get("seconds") is None:
            return result
        results.append(result)
    results.sort(key=lambda r: r["seconds"])
    median = dict(results[len(results) // 2])
    median["seconds"] = round(statistics.median(r["seconds"] for r in results), 1)
    median["runs_s"] = [r["seconds"] for r in results]
    median["peak_rss_mib"] = max(r.get("peak_rss_mib") or 0 for r in results)
    return median


def _train_once(out: Path, timeout_s: float, label: str) -> dict[str, Any]:
    """Train from scratch in a child process (bench/train_once.py): wall time and peak RSS."""
    import json

    from bench.common import PYTHON, Child

    child = Child(name="training", args=[PYTHON, "-m", "bench.train_once", "--out", str(out)],
                  log_path=out.parent / "logs" / f"{out.name}.log")
    log(f"training from scratch {label} (generate the data, train with Rasa's cache off)")
    child.start()
    deadline = time.monotonic() + timeout_s
    try:
        while child.alive() and time.monotonic() < deadline:
            child.sample_memory()
            time.sleep(1.0)
        if child.alive():
            return {"seconds": None, "note": f"did not finish within {timeout_s:.0f}s"}
        wall = time.monotonic() - child.started_at
        code = child.process.returncode if child.process is not None else None
    finally:
        child.stop()
    lines = [line for line in child.tail(200).splitlines() if line.startswith("{")]
    detail = json.loads(lines[-1]) if lines else {}
    if code != 0 or not detail.get("ok"):
        return {"seconds": None, "note": f"training failed (exit {code}); see the log with --keep"}
    log(f"  trained in {wall:.0f}s (Rasa {detail['rasa_train_s']:.0f}s)")
    return {"seconds": round(wall, 1), "peak_rss_mib": child.peak_rss_mib, **detail}


# --- targets and the table ------------------------------------------------------------------


def measure_fresh_clone(work: Path, timeout_s: float) -> dict[str, Any]:
    """bench/fresh_clone.py in a child process: a clone of HEAD, scripts/run, "hi"."""
    import json
    import subprocess

    from bench.common import PYTHON

    log("fresh clone: git clone, scripts/run, 'hi' (installs and trains; several minutes)")
    done = subprocess.run([PYTHON, "-m", "bench.fresh_clone", "--timeout", str(timeout_s), "--keep", str(work / "clone")],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout_s + 300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"first_reply_s": None, "note": f"bench.fresh_clone failed (exit {done.returncode}): {done.stderr[-300:]}"}
    result = json.loads(lines[-1])
    log(f"  first reply after {result['first_reply_s']}s, {result['lines_before_reply']} lines before it")
    return result


def _run(results: dict[str, Any], stack: str, users: int) -> dict[str, Any] | None:
    for run in results.get("messages", {}).get("runs", []):
        if run["stack"] == stack and run["users"] == users:
            return run
    return None


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    checks = []

    def check(name: str, value: Any, target: str, ok: bool | None) -> None:
        checks.append({"target": name, "value": value, "goal": target,
                       "result": ("" if target == "(information)" else "n/a") if ok is None else ("pass" if ok else "MISS")})

    # Judged on the stack with Telegram's limits off: the fake Bot API enforces none and plain
    # Rasa's REST channel has none, so that is the like-for-like cost. As shipped, the bot also
    # waits to keep to Telegram's limits (~1 message/s per chat, 30/s in all); shown beside.
    for users in (1, 10, 50):
        plain = _run(results, "plain rasa", users)
        free = _run(results, "telegram (limits off)", users)
        full = _run(results, "telegram", users)
        label = f"{users} user{'s' if users > 1 else ''}"
        if free and plain and free["p95_ms"] and plain["p95_ms"]:
            ratio = round(free["p95_ms"] / plain["p95_ms"], 2)
            check(f"full-stack p95 / plain p95 ({label})", ratio, f"<= {TARGETS['p95_ratio_max']}",
                  ratio <= TARGETS["p95_ratio_max"])
            results.setdefault("p95_ratio_limits_off", {})[str(users)] = ratio
        if full and plain and full["p95_ms"] and plain["p95_ms"]:
            ratio = round(full["p95_ms"] / plain["p95_ms"], 2)
            check(f"  same, paced to Telegram's limits ({label})", ratio, "(information)", None)
            results.setdefault("p95_ratio", {})[str(users)] = ratio
    free50 = _run(results, "telegram (limits off)", 50)
    check("throughput, 50 users (msg/s)", free50 and free50["throughput_msg_s"],
          f">= {TARGETS['throughput_50_users_min']:g}",
          None if not free50 else (free50["throughput_msg_s"] or 0) >= TARGETS["throughput_50_users_min"])
    full50 = _run(results, "telegram", 50)
    if full50:
        check("  same, paced to Telegram's 30 messages/s", full50["throughput_msg_s"], "(information)", None)
    rem = results.get("reminders", {})
    for key, minimum in (("unthrottled", TARGETS["reminders_unthrottled_min"]), ("throttled", TARGETS["reminders_throttled_min"])):
        r = rem.get(key) or {}
        if "reminders_per_s" in r:
            check(f"reminders/s {key} (n={r['n']})", r["reminders_per_s"], f">= {minimum:g}",
                  (r["reminders_per_s"] or 0) >= minimum)
            check(f"reminders {key}: duplicates / losses", f"{r['duplicates']} / {r['lost']}", "0 / 0",
                  r["duplicates"] == 0 and r["lost"] == 0)
    startup = results.get("messages", {}).get("startup_s", {}).get("telegram")
    check("start-up to first reply (s)", startup, f"<= {TARGETS['first_reply_max_s']:g}",
          None if startup is None else startup <= TARGETS["first_reply_max_s"])
    check("  same, the bot already trained (issue 19)", startup, f"<= {TARGETS['startup_trained_max_s']:g}",
          None if startup is None else startup <= TARGETS["startup_trained_max_s"])
    train = results.get("training", {}).get("seconds")
    runs = results.get("training", {}).get("runs_s")
    check(f"training from scratch (s, median of {len(runs) if runs else '?'})", train if train is not None else "not measured",
          f"<= {TARGETS['training_max_s']:g}", None if train is None else train <= TARGETS["training_max_s"])
    clone = results.get("fresh_clone") or {}
    first = clone.get("first_reply_s")
    check("fresh clone: scripts/run to the reply to 'hi' (s)", first if first is not None else clone.get("note", "not measured"),
          f"<= {TARGETS['fresh_clone_first_reply_max_s']:g}",
          None if first is None else first <= TARGETS["fresh_clone_first_reply_max_s"])
    if clone.get("replied") is not None:
        check("fresh clone: lines before the reply / noisy lines", f"{clone['lines_before_reply']} / {len(clone['noisy_lines'])}",
              "<= 25 / 0", clone["lines_before_reply"] <= 25 and not clone["noisy_lines"])
    return checks


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [[("" if c is None else str(c)) for c in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    parts = []
    m = results["machine"]
    parts.append(f"machine: {m['nproc']} x {m['cpu']}, {m['ram_gib']} GiB RAM, load at start {m['loadavg_at_start']}")
    parts.append(f"model: {results.get('model')}")
    msgs = results.get("messages") or {}
    if msgs.get("runs"):
        rows = [[r["stack"], r["users"], r["answered"], r["p50_ms"], r["p95_ms"], r["p99_ms"], r["throughput_msg_s"],
                 r["replies_per_turn_mean"], r["no_reply"] + r["timeouts"]] for r in msgs["runs"]]
        parts.append("\nper-message latency (think time %.1fs between turns; bot with %s Rasa worker process(es))"
                     % (msgs["think_s"], msgs.get("bot_workers", 1)))
        parts.append(table(rows, ["stack", "users", "msgs", "p50 ms", "p95 ms", "p99 ms", "msg/s", "replies/turn", "lost"]))
    rem = results.get("reminders") or {}
    if rem:
        rows = [[k, r.get("n"), r.get("sent"), r.get("reminders_per_s"), r.get("reminders_per_s_incl_start"),
                 r.get("duplicates"), r.get("lost"), r.get("max_sends_in_1s_window")] for k, r in rem.items() if "n" in r]
        parts.append("\nreminder fan-out")
        parts.append(table(rows, ["run", "due", "sent", "per s", "per s incl. start", "dup", "lost", "max in 1 s"]))
    other = []
    for name, value in (msgs.get("startup_s") or {}).items():
        other.append([f"start-up to first reply: {name}", f"{value} s"])
    training = results.get("training", {})
    other.append(["training from scratch (median)", training.get("seconds") or training.get("note")])
    if training.get("runs_s"):
        other.append(["  each run (s)", ", ".join(str(x) for x in training["runs_s"])])
    clone = results.get("fresh_clone") or {}
    other.append(["fresh clone to first reply", clone.get("first_reply_s") or clone.get("note")])
    for name, value in (results.get("peak_rss_mib") or {}).items():
        other.append([f"peak RSS: {name}", f"{value} MiB"])
    kb = results.get("kb_queries") or {}
    if kb.get("queries"):
        other.append(["KB: slowest query median", f"{kb['slowest_median_us']} us over {len(kb['queries'])} queries"])
        other.append(["KB: load / reload / KnowledgeBase.load", f"{kb['first_load_ms']} / {kb['reload_ms']} / {kb['kb_load_ms']} ms"])
    parts.append("\nother")
    parts.append(table(other, ["what", "value"]))
    parts.append("\ntargets")
    parts.append(table([[c["target"], c["value"], c["goal"], c["result"]] for c in results["targets"]],
                       ["target", "value", "goal", "result"]))
    return "\n".join(parts)


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the coach (see docs/benchmarks.md).")
    parser.add_argument("--quick", action="store_true", help="a small smoke run: 1 and 3 users, 200 reminders")
    parser.add_argument("--levels", default="1:24,10:10,50:20",
                        help="users:messages-per-user, comma-separated (50 x 20: a sustained load, ~30 s)")
    parser.add_argument("--think-s", type=float, default=0.3, help="a user's pause between the answer and the next message")
    parser.add_argument("--bot-workers", type=int, default=2,
                        help="the bot's Rasa worker processes (COACH_WORKERS; 1 = Rasa in the bot's process)")
    parser.add_argument("--unthrottled-users", default="1,10,50", help="levels also run with the Telegram limits off")
    parser.add_argument("--reminders", type=int, default=10_000, help="due reminders, unthrottled")
    parser.add_argument("--throttled-reminders", type=int, default=600, help="due reminders at 30/s")
    parser.add_argument("--kb-runs", type=int, default=300)
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--skip-unthrottled", action="store_true")
    parser.add_argument("--skip-messages", action="store_true")
    parser.add_argument("--skip-reminders", action="store_true")
    parser.add_argument("--skip-kb", action="store_true")
    parser.add_argument("--skip-training", action="store_true", help="do not train from scratch (~4 min)")
    parser.add_argument("--training-timeout", type=float, default=1200.0)
    parser.add_argument("--training-runs", type=int, default=3, help="trainings from scratch; the median is judged")
    parser.add_argument("--skip-fresh-clone", action="store_true", help="do not time a fresh clone's first reply (~5 min)")
    parser.add_argument("--fresh-clone-timeout", type=float, default=900.0)
    parser.add_argument("--start-timeout", type=float, default=300.0)
    parser.add_argument("--fanout-timeout", type=float, default=900.0)
    parser.add_argument("--model", help="a model file (default: bot.training.current_model(), waited for)")
    parser.add_argument("--model-wait", type=float, default=1800.0, help="how long to wait for a model (s)")
    parser.add_argument("--out", default=str(RESULTS_DIR / "latest.json"))
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (databases, logs)")
    args = parser.parse_args(argv)
    if args.quick:
        args.levels, args.unthrottled_users = "1:6,3:4", "3"
        args.reminders, args.throttled_reminders, args.kb_runs = 200, 90, 50
        args.skip_training = True  # minutes; the quick run is a smoke test
        args.skip_fresh_clone = True
    args.unthrottled_users = {int(x) for x in str(args.unthrottled_users).split(",") if x.strip()}

    results: dict[str, Any] = {
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "packages": package_versions(),
        "targets_def": TARGETS,
    }
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="coach-bench-"))
    try:
        if not args.skip_messages:
            model = Path(args.model).resolve() if args.model else wait_for_model(args.model_wait)
            results["model"] = str(model) if model else None
            if model is None:
                log("no up-to-date model: message benchmarks skipped (this benchmark never trains models/)")
                results["messages"] = {"error": "no up-to-date model"}
            else:
                results["messages"] = asyncio.run(run_messages(args, model, work))
                results["peak_rss_mib"] = results["messages"].pop("peak_rss_mib", {})
        if not args.skip_reminders:
            results["reminders"] = asyncio.run(run_reminders(args, work))
            for key, r in results["reminders"].items():
                if r.get("scheduler_peak_rss_mib"):
                    results.setdefault("peak_rss_mib", {})[f"scheduler ({key})"] = r["scheduler_peak_rss_mib"]
        if not args.skip_kb:
            log("knowledge-base queries")
            results["kb_queries"] = run_kb_queries(args.kb_runs)
        if args.skip_training:
            results["training"] = {"seconds": None, "note": "not measured (--skip-training)"}
        else:
            results["training"] = measure_training(work, args.training_timeout, args.training_runs)
            if results["training"].get("peak_rss_mib"):
                results.setdefault("peak_rss_mib", {})["training"] = results["training"]["peak_rss_mib"]
        if args.skip_fresh_clone:
            results["fresh_clone"] = {"first_reply_s": None, "note": "not measured (--skip-fresh-clone)"}
        else:
            results["fresh_clone"] = measure_fresh_clone(work, args.fresh_clone_timeout)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["targets"] = evaluate(results)
    results["duration_s"] = round(time.monotonic() - began, 1)
    out = Path(args.out)
    write_json(out, results)
    print(render(results))
    print(f"\nwritten: {out}  ({results['duration_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
