"""``python -m bot run`` for the benchmark: the same entry point (:func:`bot.cli.main`), with
two differences.

- It never trains: it runs the model named by ``BENCH_MODEL`` (the benchmark's pick of
  :func:`bot.training.current_model`, so every process of one run uses the same model even if
  someone changes the training data meanwhile), and without one it stops with an error instead
  of starting a multi-minute training run.
- ``--unthrottled`` turns the Telegram rate limits off (AIORateLimiter and the bot's per-chat
  limit pass every request straight through). Only for the diagnostic run that shows what the
  stack itself can do; the bot as shipped keeps its limits.

    .venv/bin/python -m bench.launch_bot [--unthrottled]
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def _refuse_training(*_args: object, **_kwargs: object) -> None:
    from bot.errors import CoachError

    raise CoachError("no up-to-date model, and the benchmark never trains: run 'python -m bot train' first")


def _unthrottle() -> None:
    from telegram.ext import AIORateLimiter

    async def straight_through(self, callback, args, kwargs, endpoint, data, rate_limit_args):  # type: ignore[no-untyped-def]
        return await callback(*args, **kwargs)

    AIORateLimiter.process_request = straight_through  # type: ignore[method-assign]
    from bot import telegram_app

    telegram_app.ChatRateLimiter.process_request = straight_through  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    import bot.settings  # noqa: F401  (Rasa's environment first, as bot.cli does)
    import bot.training

    bot.training.train = _refuse_training  # type: ignore[assignment]
    pinned = os.environ.get("BENCH_MODEL")
    if pinned and Path(pinned).exists():
        bot.training.current_model = lambda: Path(pinned)  # type: ignore[assignment]
    if "--unthrottled" in argv:
        argv.remove("--unthrottled")
        _unthrottle()
    try:
        import bot.telegram_main  # noqa: F401  (what `python -m bot run` uses on Telegram)
    except ImportError:
        # An older tree: the Telegram entry point lived in bot.telegram_app.
        from bot.telegram_app import main as telegram_app_main

        telegram_app_main(argv)
        return 0
    from bot.cli import main as cli_main

    return cli_main(["run", *argv])


if __name__ == "__main__":
    sys.exit(main())
