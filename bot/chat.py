"""``python -m bot chat``: a conversation in the terminal with the real model and actions."""
from __future__ import annotations

import asyncio
import sys

from bot.turns import Coach, Turn


def render(turn: Turn) -> tuple[str, list[str]]:
    """Text to print, and the payloads of the numbered buttons."""
    lines: list[str] = []
    payloads: list[str] = []
    for reply in turn.replies:
        if reply.text:
            lines.append(reply.text)
        if reply.image:
            lines.append(f"[picture saved to {reply.image}]")
        if reply.document:
            lines.append(f"[file saved to {reply.document}]")
        for button in reply.buttons:
            payloads.append(button.payload)
            lines.append(f"  [{len(payloads)}] {button.title}")
    return "\n".join(lines), payloads


async def run_chat(coach: Coach, user: str) -> None:
    print("Glute coach — type a message, a button number, or /quit. Ctrl-D ends too.\n")
    payloads: list[str] = []
    loop = asyncio.get_running_loop()
    while True:
        try:
            line = await loop.run_in_executor(None, lambda: input("you> "))
        except (EOFError, KeyboardInterrupt):
            print()
            return
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            return
        if text.isdigit() and payloads and 1 <= int(text) <= len(payloads):
            text = payloads[int(text) - 1]
        turn = await coach.handle(user, text)
        out, payloads = render(turn)
        print("coach> " + (out.replace("\n", "\n       ") if out else "(no reply)"), flush=True)
        sys.stdout.flush()
