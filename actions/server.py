"""Entry point of the action server: ``python -m actions.server --port 5055``.

A thin wrapper over rasa-sdk's own server (same HTTP contract as ``rasa run actions``) that binds
where we say and keeps the log quiet. The action package is this one, ``actions``.
"""
from __future__ import annotations

import argparse
import logging
import os


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m actions.server", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTION_SERVER_PORT", "5055") or 5055))
    parser.add_argument("--host", default=os.environ.get("ACTION_SERVER_HOST", "127.0.0.1"))
    args = parser.parse_args(argv)

    os.environ["SANIC_HOST"] = args.host
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from rasa_sdk import endpoint

    endpoint.run("actions", port=args.port)


if __name__ == "__main__":
    main()
