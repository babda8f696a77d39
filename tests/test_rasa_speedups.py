"""The bot replaces two of Rasa's hot spots with cached equivalents (bot.rasa_bridge); they must
give Rasa's answers, errors included. (The model-load one: tests/test_fast_model_load.py.)"""
from __future__ import annotations

import pytest


def test_event_class_lookup_gives_rasas_answers() -> None:
    from rasa.shared.core.events import ActionExecuted, Event, UserUttered, deserialise_events
    from rasa.shared.utils.common import all_subclasses

    from bot.rasa_bridge import resolve_event_types_once

    resolve_event_types_once()
    rasa_lookup = Event._coach_resolve_by_type
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert {"user", "bot", "action", "slot", "active_loop", "session_started"} <= names
    for _ in range(2):  # the second round answers from the cache
        for name in names:
            assert Event.resolve_by_type(name) is rasa_lookup(name), name
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")
    assert Event.resolve_by_type("no_such_event", UserUttered) is UserUttered
    assert Event.resolve_by_type("topic") is None
    events = deserialise_events([
        {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
        {"event": "action", "name": "utter_greet"},
    ])
    assert [type(e) for e in events] == [UserUttered, ActionExecuted]


def test_action_result_check_still_rejects_what_rasa_rejects() -> None:
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_bridge import validate_action_results_once

    validate_action_results_once()
    action = RemoteAction("action_x", EndpointConfig(url="http://127.0.0.1:1/webhook"))
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": "not a list", "responses": []})


def test_tensorflow_runs_single_threaded_unless_told_otherwise() -> None:
    import subprocess
    import sys

    probe = (
        "from bot.rasa_bridge import single_threaded_tensorflow; single_threaded_tensorflow(); "
        "import tensorflow as tf; t = tf.config.threading; "
        "print(t.get_intra_op_parallelism_threads(), t.get_inter_op_parallelism_threads())"
    )
    default = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert default.stdout.split() == ["1", "1"], default.stderr[-500:]
    import os

    told = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_INTRA_OP_PARALLELISM_THREADS": "2"})
    assert told.stdout.split() == ["2", "1"], told.stderr[-500:]
