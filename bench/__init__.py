"""Benchmarks of the coach: ``.venv/bin/python -m bench.run`` (see docs/benchmarks.md).

Modules: :mod:`bench.run` (the one command), :mod:`bench.common` (processes, percentiles,
memory, machine), :mod:`bench.conversations` (the message mix), :mod:`bench.fullstack`
(fake Telegram -> bot -> Rasa -> actions, and plain ``rasa run`` beside it),
:mod:`bench.fanout` (reminder fan-out), :mod:`bench.launch_bot` (the bot as ``python -m bot
run`` does it, but never training), and :mod:`bench.kb_queries` (knowledge-base query times).
"""
