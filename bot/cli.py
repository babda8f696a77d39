"""Command line: ``python -m bot <command>`` (also installed as ``coach``).

Errors are one line — what is wrong and what to do — never a traceback; the details of an
unexpected failure go to ``var/coach.log``.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
import traceback
from pathlib import Path

import bot.settings  # noqa: F401  (environment for Rasa before anything imports it)
from bot.errors import CoachError
from bot.settings import Settings, quiet_terminal
from knowledge.db import PROJECT_ROOT, VAR_DIR

log = logging.getLogger("bot")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from bot.training import Project, train

    project = Project.folder(Path(args.project)) if args.project else None
    path = train(force=args.force, progress=_progress, project=project)
    print(path)
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.chat import run_chat
    from bot.runtime import coach_session

    async def main() -> None:
        async with coach_session(settings, progress=_progress) as coach:
            await run_chat(coach, args.user)

    asyncio.run(main())
    return 0


def cmd_say(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import coach_session
    from bot.say import run_say

    async def main() -> int:
        async with coach_session(settings, progress=_progress) as coach:
            return await run_say(coach, sys.stdin, sys.stdout, args.user)

    failures = asyncio.run(main())
    return 1 if failures else 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.telegram_token:
        _progress("TELEGRAM_BOT_TOKEN is not set: starting a terminal conversation instead.")
        return cmd_chat(args, settings)
    from bot.telegram_main import run_telegram

    if args.workers is not None:
        if args.workers < 1:
            raise CoachError(f"--workers must be at least 1 (got {args.workers})")
        settings = dataclasses.replace(settings, workers=args.workers)
    return run_telegram(settings, webhook_url=args.webhook_url, listen=args.listen, port=args.port)


def cmd_kb(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge import kb_commands
    from knowledge.db import get_engine
    from knowledge.loader import DEFAULT_CONTENT_DIR

    content_dir = Path(args.content) if args.content else DEFAULT_CONTENT_DIR
    if args.kb_command == "validate":
        code, text = kb_commands.cmd_validate(content_dir)
    elif args.kb_command == "load":
        code, text = kb_commands.cmd_load(get_engine(settings.database_url), content_dir)
    else:
        code, text = kb_commands.cmd_show(get_engine(settings.database_url), args.id)
    print(text)
    return code


def cmd_progress(args: argparse.Namespace, settings: Settings) -> int:
    from bot.progress_report import progress_command

    out = Path(args.out) if args.out else VAR_DIR / "charts" / f"progress-{args.user}.png"
    code, _text = progress_command(args.user, out)  # it prints the summary itself
    return code


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    from bot.health import run_health

    return run_health(settings)


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from bot.telegram_main import run_scheduler_only

    return run_scheduler_only(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coach", description="A glute-activation coach on Telegram (Rasa).")
    parser.add_argument("--verbose", action="store_true",
                        help="show Rasa's own output, warnings and progress bars (also LOG_LEVEL=DEBUG or COACH_VERBOSE=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train the Rasa model when its inputs changed")
    p.add_argument("--force", action="store_true", help="train even when the model is up to date")
    p.add_argument("--project", metavar="DIR",
                   help="train another Rasa project folder (config.yml, domain.yml, data/) into DIR/models")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("chat", help="talk to the coach in this terminal")
    p.add_argument("--user", default="cli", help="conversation id (default: cli)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("say", help="one JSON line per input line (scripted use)")
    p.add_argument("--user", default="cli", help="user of plain-text lines (default: cli)")
    p.set_defaults(func=cmd_say)

    p = sub.add_parser("run", help="Telegram when TELEGRAM_BOT_TOKEN is set, otherwise chat")
    p.add_argument("--user", default="cli", help="conversation id for the terminal fallback")
    p.add_argument("--webhook-url", help="use a webhook at this public URL instead of long polling")
    p.add_argument("--listen", default="0.0.0.0", help="webhook listen address")
    p.add_argument("--port", type=int, default=8443, help="webhook port")
    p.add_argument("--workers", type=int, help="Rasa worker processes (default: COACH_WORKERS or 1)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("kb", help="knowledge base: validate, load, show")
    p.add_argument("--content", help="content folder (default: knowledge/content)")
    kb_sub = p.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    kb_sub.add_parser("validate", help="check every content file; list all problems as file:line")
    kb_sub.add_parser("load", help="validate, then write the content to the database")
    show = kb_sub.add_parser("show", help="print one item by id")
    show.add_argument("id")
    p.set_defaults(func=cmd_kb)

    p = sub.add_parser("progress", help="print a trainee's summary and write the chart")
    p.add_argument("--user", required=True)
    p.add_argument("--out", help="PNG path (default: var/charts/progress-USER.png)")
    p.set_defaults(func=cmd_progress)

    p = sub.add_parser("health", help="check database, model, action server and Redis")
    p.set_defaults(func=cmd_health)

    p = sub.add_parser("scheduler", help="run only the reminder scheduler (a second worker)")
    p.set_defaults(func=cmd_scheduler)
    for command in sub.choices.values():  # `coach train --verbose` as well as `coach --verbose train`
        command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        os.environ["COACH_VERBOSE"] = "1"
    quiet_terminal()
    # Rasa resolves config.yml's paths (the spaCy pipeline) against the working directory.
    os.chdir(PROJECT_ROOT)
    try:
        settings = Settings.from_env()
    except CoachError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from bot.runtime import quiet_logs

    quiet_logs(settings.log_level, token=settings.telegram_token)
    try:
        return args.func(args, settings)
    except CoachError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # anything unexpected: one line here, the traceback in the log file
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        with open(VAR_DIR / "coach.log", "a", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())
        message = _redact(f"{type(exc).__name__}: {exc}", settings)
        print(f"error: {message} (details in {VAR_DIR / 'coach.log'})", file=sys.stderr)
        return 1


def _redact(text: str, settings: Settings) -> str:
    if settings.telegram_token:
        text = text.replace(settings.telegram_token, "<token>")
    return text.splitlines()[0][:300] if text else text


if __name__ == "__main__":
    sys.exit(main())
