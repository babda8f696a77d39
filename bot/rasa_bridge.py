"""The in-process Rasa agent: one user message in, one :class:`~bot.turns.Turn` out.

The agent runs inside the bot process (``rasa.core.agent``); custom actions run in the action
server over HTTP; Rasa's tracker store is SQL on the project's database, so a conversation
survives a restart. Actions attach the knowledge-base ids they used as a custom payload
``{"kb_refs": {...}}`` and charts as ``{"chart": {...}}``; this module turns those into
``Turn.refs`` and image files, so no front end ever sees them.
"""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import bot.settings  # noqa: F401  (sets Rasa's environment before Rasa is imported)
from bot.errors import CoachError
from bot.turns import Button, Reply, Turn
from knowledge.db import scrub_deleted

log = logging.getLogger(__name__)

REF_KINDS = ("faults", "cues", "exercises", "activities")


CACHED_CONVERSATIONS = 500


def _scrub(engine: Any) -> bool:
    with engine.connect() as conn:
        return scrub_deleted(conn)


def caching_sql_tracker_store() -> type:
    """Rasa's SQLTrackerStore that keeps each conversation's tracker after saving it.

    Rasa reads every event of the session from SQL and replays them at the start of each turn
    (4 ms for a short conversation, ~10 ms after twenty turns, measured). The tracker it saved
    at the end of the last turn is the same state, so it is kept and handed back, as long as
    - the database's last event id for that conversation is still the one seen after saving
      (nobody else wrote to it: another process, a /delete), and
    - the tracker has no events beyond those saved (a turn that failed after changing it), and
    - it begins where a read would begin, with the session's start (Rasa reads events from the
      latest ``session_started`` on, so the first turn of a session is not kept).
    Otherwise the store reads the database as before. tests/test_tracker_cache.py compares
    whole conversations with and without it."""
    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import SessionStarted

    class CachingSQLTrackerStore(SQLTrackerStore):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._kept: dict[str, tuple[Any, int, int]] = {}  # sender -> (tracker, last id, events)
            self.cache_hits = 0

        def _last_event_id(self, sender_id: str) -> Any:
            with self.session_scope() as session:
                return session.query(sa.func.max(self.SQLEvent.id)).filter(self.SQLEvent.sender_id == sender_id).scalar()

        async def retrieve(self, sender_id: str) -> Any:
            kept = self._kept.pop(sender_id, None)  # the turn takes it; a failed turn leaves none
            if kept is not None:
                tracker, last_id, events = kept
                if len(tracker.events) == events and self._last_event_id(sender_id) == last_id:
                    self.cache_hits += 1
                    return tracker
            return await super().retrieve(sender_id)

        async def save(self, tracker: Any) -> None:
            self._kept.pop(tracker.sender_id, None)
            await super().save(tracker)
            starts = [i for i, event in enumerate(tracker.events) if isinstance(event, SessionStarted)]
            if starts and starts[-1] != 0:
                # Events before the session's start (its start action, an earlier session) are
                # not part of what the database gives back: the next turn reads it.
                return
            last_id = self._last_event_id(tracker.sender_id)
            if last_id is None:
                return
            if len(self._kept) >= CACHED_CONVERSATIONS:
                self._kept.pop(next(iter(self._kept)))  # the least recently saved
            self._kept[tracker.sender_id] = (tracker, last_id, len(tracker.events))

    return CachingSQLTrackerStore


def tracker_store_for(database_url: str, domain: Any = None, keep_trackers: bool = True) -> Any:
    """Rasa's SQLTrackerStore on the project's own database (keeping trackers between turns,
    see :func:`caching_sql_tracker_store`, unless ``keep_trackers`` is false)."""
    from rasa.core.tracker_store import SQLTrackerStore

    if keep_trackers:
        SQLTrackerStore = caching_sql_tracker_store()  # noqa: N806
    parsed = urlparse(database_url)
    dialect = parsed.scheme.split("+")[0]
    if dialect == "sqlite":
        # sqlite:////abs/path → /abs/path ; sqlite:///rel → rel
        path = database_url.split(":///", 1)[1]
        return SQLTrackerStore(domain=domain, dialect="sqlite", db=path)
    if dialect in ("postgresql", "postgres"):
        return SQLTrackerStore(
            domain=domain,
            dialect="postgresql",
            host=parsed.hostname,
            port=parsed.port,
            db=parsed.path.lstrip("/"),
            username=unquote(parsed.username or ""),
            password=unquote(parsed.password or ""),
        )
    raise CoachError(f"DATABASE_URL uses '{dialect}', which is not supported; use sqlite:// or postgresql://")


def atomic_redis_lock_store() -> type:
    """Rasa's RedisLockStore with its read-modify-write steps made atomic.

    Rasa reads a conversation's ticket lock, changes it and writes it back in separate Redis
    calls, so two processes issuing a ticket at the same moment can both get the same number and
    handle one conversation side by side. A short Redis mutex per conversation around each
    change closes that window."""
    from rasa.core.lock_store import LOCK_LIFETIME, LockStore, RedisLockStore

    class AtomicRedisLockStore(RedisLockStore):
        def _mutex(self, conversation_id: str) -> Any:
            return self.red.lock(f"{self.key_prefix}{conversation_id}:mutex", timeout=10, blocking_timeout=10)

        def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
            with self._mutex(conversation_id):
                return super().issue_ticket(conversation_id, lock_lifetime)

        def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
            with self._mutex(conversation_id):
                LockStore.finish_serving(self, conversation_id, ticket_number)

        def cleanup(self, conversation_id: str, ticket_number: int) -> None:
            with self._mutex(conversation_id):  # not reentrant: use the unguarded steps inside
                LockStore.finish_serving(self, conversation_id, ticket_number)
                if not self.is_someone_waiting(conversation_id):
                    self.delete_lock(conversation_id)

    return AtomicRedisLockStore


def lock_store_for(redis_url: str | None) -> Any:
    """Redis lock store when several bot processes share conversations, else in memory."""
    from rasa.core.lock_store import InMemoryLockStore

    if not redis_url:
        return InMemoryLockStore()
    parsed = urlparse(redis_url)
    return atomic_redis_lock_store()(
        host=parsed.hostname or "localhost",
        port=parsed.port or 6379,
        db=int((parsed.path or "/0").lstrip("/") or 0),
        password=unquote(parsed.password) if parsed.password else None,
    )


def validate_action_results_once() -> None:
    """Rasa checks every action-server answer with ``jsonschema.validate``, which builds a new
    validator for the schema on each call (20–50 ms of CPU per action, measured). Build it once:
    the same check, the same error, about 1 ms."""
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction, "_coach_validator", None) is not None:
        return
    spec = RemoteAction.action_response_format_spec()
    validator = validator_for(spec)(spec)

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        try:
            validator.validate(result)
        except ValidationError as error:
            error.message += ". Failed to validate Action server response from API."
            raise
        return True

    RemoteAction._coach_validator = validator
    RemoteAction._validate_action_result = _validate_action_result


def load_tf_models_without_training_graph() -> None:
    """Rasa loads DIET by running one training step (``model.fit``) just to create its weights,
    then overwrites them from the checkpoint. Tracing that training graph is ~24 of the ~28 s a
    model load takes here. One eager forward pass (``batch_loss``) creates the same weights
    without a graph; the checkpoint is then restored exactly as before. Prediction is
    unchanged (tests/test_fast_model_load.py compares every intent ranking and entity with
    Rasa's own load). Fine-tuning keeps Rasa's path, which needs the optimiser state."""
    import tensorflow as tf
    from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
    from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator
    from rasa.utils.tensorflow.models import RasaModel

    if getattr(RasaModel, "_coach_rasa_load", None) is not None:
        return
    rasa_load = RasaModel.__dict__["load"].__func__

    def load(cls: Any, model_file_name: str, model_data_example: Any, predict_data_example: Any = None,
             finetune_mode: bool = False, *args: Any, **kwargs: Any) -> Any:
        if finetune_mode:
            return rasa_load(cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs)
        config = kwargs.get("config", {})
        model = cls(*args, **kwargs)
        model.compile(optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)),
                      run_eagerly=config.get(RUN_EAGERLY))
        batch, _ = RasaBatchDataGenerator(model_data_example, batch_size=1)[0]
        model.batch_loss(batch)  # eager: builds every layer's weights
        # Every weight the model has must come from the file, or loading fails loudly.
        # The optimiser state in the file is not needed for prediction (expect_partial).
        model.load_weights(model_file_name).assert_existing_objects_matched().expect_partial()
        if predict_data_example:
            model.run_inference(predict_data_example)  # traces the prediction graph once, as Rasa does
        return model

    RasaModel._coach_rasa_load = rasa_load
    RasaModel.load = classmethod(load)


def resolve_event_types_once() -> None:
    """Rasa finds an event's class by walking every subclass of ``Event`` (with an abstractness
    check on each) for every stored event it reads: ~4 ms of each turn's ~33 ms here, measured.
    Remember each answer: the same class for the same name, as long as no event class with a
    name already seen is defined later (Rasa's are all defined when its events module loads)."""
    from rasa.shared.core.events import Event

    if getattr(Event, "_coach_resolve_by_type", None) is not None:
        return
    resolve_by_type = Event.__dict__["resolve_by_type"].__func__
    found: dict[str, type] = {}

    def cached_resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = found.get(type_name)
        if cls is not None:
            return cls
        result = resolve_by_type(type_name, default)  # Rasa's answer, errors included
        if result is not None and result is not default:
            found[type_name] = result
        return result

    Event._coach_resolve_by_type = resolve_by_type
    Event.resolve_by_type = staticmethod(cached_resolve_by_type)


def single_threaded_tensorflow() -> None:
    """DIET's graph per message is tiny (~5 ms): TensorFlow's thread pools only add hand-offs
    (2-6 ms of CPU per turn, measured) and compete with the other processes for the cores.
    ``rasa run`` applies TF_INTRA_OP_PARALLELISM_THREADS itself; an in-process agent must."""
    import tensorflow as tf

    intra = int(os.environ.get("TF_INTRA_OP_PARALLELISM_THREADS", "1") or 1)
    inter = int(os.environ.get("TF_INTER_OP_PARALLELISM_THREADS", "1") or 1)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # TensorFlow already ran something in this process: keep its pools
        pass


def send_only_this_turns_events_to_actions() -> None:
    """Rasa sends the whole session's events with every custom-action call, so each call grows
    with the conversation (measured: 2-6 ms of the bot's CPU per turn after ten turns, plus
    the action server's parsing). Our actions read the tracker's slots, latest message and
    active loop, which travel separately; of the events, rasa-sdk only reads those since the
    latest user message (the slots a form has to validate). Send those and no older ones."""
    import rasa
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import EventVerbosity

    if getattr(RemoteAction, "_coach_call_format", None) is not None:
        return
    call_format = RemoteAction._action_call_format

    def _action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
        # Rasa's own format (rasa/core/actions/action.py), with the events cut.
        state = tracker.current_state(EventVerbosity.NONE)  # everything but the events
        events = list(tracker.events)
        start = next((i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], UserUttered)), 0)
        state["events"] = [event.as_dict() for event in events[start:]]
        result = {"next_action": self._name, "sender_id": tracker.sender_id, "tracker": state,
                  "version": rasa.__version__}
        if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
            result["domain"] = domain.as_dict()
        return result

    RemoteAction._coach_call_format = call_format
    RemoteAction._action_call_format = _action_call_format


def speed_up_rasa() -> None:
    """Measured hot spots of Rasa 3.6, each replaced by the same computation done cheaper."""
    single_threaded_tensorflow()
    send_only_this_turns_events_to_actions()
    validate_action_results_once()
    load_tf_models_without_training_graph()
    resolve_event_types_once()


def structlog_configured() -> bool:
    import structlog

    return structlog.is_configured()


def merge_refs(refs: dict[str, Any], extra: dict[str, Any]) -> None:
    for kind in REF_KINDS:
        for item in extra.get(kind, []) or []:
            if item not in refs[kind]:
                refs[kind].append(item)
    if extra.get("red_flag"):
        refs["red_flag"] = True
        if extra.get("red_flag_id"):
            refs["red_flag_id"] = extra["red_flag_id"]


def quiet_structlog(level: int = logging.WARNING) -> None:
    """Rasa 3.6 logs through structlog, whose default prints every level to stdout."""
    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=__import__("sys").stderr),
    )


def _as_intent(parse: dict[str, Any], intent: str, **changes: Any) -> dict[str, Any]:
    """``parse`` read as ``intent`` for certain (a reader of the bridge decided, not the classifier)."""
    return {**parse, "intent": {"name": intent, "confidence": 1.0}, "intent_ranking": [{"name": intent, "confidence": 1.0}],
            **changes}


def answer_to_open_question(tracker: Any, text: str, parse: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The message read against the form question the tracker has open
    (:mod:`knowledge.form_answers`): when it answers it, the parse becomes ``inform`` so that the
    form's text mapping takes it, whatever intent the classifier guessed."""
    from knowledge.form_answers import LEAVING, read_answer

    slot = tracker.get_slot("requested_slot") if tracker.active_loop_name else None
    if tracker.active_loop_name and LEAVING.match(text):  # "stop", "later", "not now"
        return None, _as_intent(parse, "leave_form")
    answer = read_answer(slot, text)
    if answer is None:
        return None, parse
    guessed = parse.get("intent") or {}
    if guessed.get("name") != "inform":
        log.debug("message read as the answer to %s (the classifier guessed %s)", slot, guessed.get("name"))
    # The whole message is the answer: without the entities, the slot's text mapping takes it and
    # the validator reads it with the same parser ("two bands and a bench" was stored as the one
    # entity the classifier found, "bench").
    return answer, _as_intent(parse, "inform", entities=[])


MEMORY_SLOTS = {"cue": ("ask_why_cue", "last_cues"), "exercise": ("ask_howto", "last_exercises")}


def question_back_at_what_was_said(tracker: Any, text: str, parse: dict[str, Any]) -> dict[str, Any]:
    """ "why?", "how do i do the second one?" right after the coach named cues or exercises
    (:func:`knowledge.references.reference_question`): the why or how-to question, whatever intent
    the classifier guessed; the action picks the item from the slots that keep what was named."""
    from knowledge.references import reference_question

    kind = reference_question(text)
    if kind is None or any(e.get("entity") == kind for e in parse.get("entities") or []):
        return parse
    intent, slot = MEMORY_SLOTS[kind]
    if not tracker.get_slot(slot):
        return parse
    return _as_intent(parse, intent)


class RasaCoach:
    """Implements :class:`bot.turns.Coach` with a loaded Rasa model."""

    def __init__(self, agent: Any, chart_dir: Path, gate: Any = None) -> None:
        self.agent = agent
        self.chart_dir = chart_dir
        self.gate = gate  # bot.safety_gate.SafetyGate: every message is screened before Rasa

    @classmethod
    def load(
        cls,
        model_path: Path,
        action_server_url: str,
        database_url: str,
        redis_url: str | None = None,
        action_timeout_s: float = 10.0,
        chart_dir: Path | None = None,
    ) -> "RasaCoach":
        from rasa.core.agent import Agent
        from rasa.utils.endpoints import EndpointConfig

        from knowledge.db import VAR_DIR

        if not structlog_configured():
            quiet_structlog()
        speed_up_rasa()
        agent = Agent.load(
            model_path,
            action_endpoint=EndpointConfig(url=action_server_url, timeout=action_timeout_s),
            tracker_store=tracker_store_for(database_url),
            lock_store=lock_store_for(redis_url),
        )
        from bot.safety_gate import SafetyGate
        from knowledge.db import get_engine

        return cls(agent, chart_dir or VAR_DIR / "charts", SafetyGate(get_engine(database_url)))

    async def handle(self, user: str, text: str, metadata: dict[str, Any] | None = None) -> Turn:
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

        from bot.logging_setup import correlation

        with correlation(user=user):
            return await self._handle(user, text, metadata)

    async def _handle(self, user: str, text: str, metadata: dict[str, Any] | None) -> Turn:
        """Clean text → the command table → the safety path (screen, its open question, a paused
        coaching) → the open form question's answer reader → Rasa's intents."""
        from rasa.core.channels.channel import UserMessage

        from bot import safety_gate
        from bot.commands import coach_text
        from knowledge.safety import triage as safety
        from knowledge.text_hygiene import clean_text

        text = coach_text(clean_text(text))  # "/pause" is the same command in every channel
        if self.gate is None:
            return await self._rasa_turn(user, text, metadata, None)
        parse = await self.agent.processor.parse_message(UserMessage(text, sender_id=user))
        intent = (parse.get("intent") or {}).get("name")
        decision = await asyncio.to_thread(self.gate.decide, user, text, intent)
        if decision.action == safety.STOP:
            return await self._stop_turn(user, text, metadata, decision.flag_id)
        if decision.action == safety.RESUME:
            turn = Turn(user=user, text=text)
            if decision.forward:
                held = await self.agent.processor.parse_message(UserMessage(decision.forward, sender_id=user))
                turn = await self._rasa_turn(user, decision.forward, metadata, safety_gate.without_red_flag(held))
                turn.text = text
            turn.replies.insert(0, Reply(text=decision.prefix))
            return turn
        if decision.action != safety.PASS:
            turn = Turn(user=user, text=text, intent={"name": intent, "confidence": round(float((parse.get("intent") or {}).get("confidence") or 0.0), 4)})
            turn.replies.append(Reply(text=decision.text, buttons=[Button(t, p) for t, p in decision.buttons]))
            if decision.action in (safety.ASK, safety.REASK):
                turn.refs["red_flag_check"] = decision.flag_id
            if decision.action == safety.PAUSED:
                turn.refs["red_flag"] = True
                if decision.flag_id:
                    turn.refs["red_flag_id"] = decision.flag_id
            return turn
        return await self._rasa_turn(user, text, metadata, safety_gate.without_red_flag(parse), read_answer=True)

    async def _stop_turn(self, user: str, text: str, metadata: dict[str, Any] | None, flag_id: str | None) -> Turn:
        """A red flag: the conversation stops (any form ends, nothing is stored from the
        message) and the advice is given, by the red-flag action or, if the conversation cannot
        answer, from the knowledge base directly."""
        from bot.safety_gate import red_flag_parse

        try:
            turn = await self._rasa_turn(user, text, metadata, red_flag_parse(text, flag_id))
        except Exception:
            log.error("the conversation could not answer a red flag; the advice comes from the gate", exc_info=True)
            turn = Turn(user=user, text=text, intent={"name": "red_flag", "confidence": 1.0})
        if not turn.refs.get("red_flag"):
            answer = self.gate.advice_answer(flag_id)
            turn.replies = [Reply(text=m.text) for m in answer.messages]
            merge_refs(turn.refs, answer.refs())
        return turn

    async def _rasa_turn(
        self, user: str, text: str, metadata: dict[str, Any] | None, parse: dict[str, Any] | None, read_answer: bool = False
    ) -> Turn:
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

        output = CollectingOutputChannel()
        message = UserMessage(text, output, sender_id=user, metadata=metadata or None, parse_data=parse)
        processor = self.agent.processor
        answer = None
        # Same steps as Agent.handle_message, keeping the tracker so that the parse result of this
        # very message can be reported without reading the tracker back from the database.
        async with self.agent.lock_store.lock(user):
            tracker = await processor.fetch_tracker_and_update_session(user, output, message.metadata)
            if read_answer and parse is not None:
                answer, message.parse_data = answer_to_open_question(tracker, text, parse)
                if answer is None:
                    message.parse_data = question_back_at_what_was_said(tracker, text, message.parse_data)
            await processor._handle_message_with_tracker(message, tracker)
            tracker = await processor.run_action_extract_slots(output, tracker)
            await processor._run_prediction_loop(output, tracker)
            await processor.run_anonymization_pipeline(tracker)
            await processor.save_tracker(tracker)
        parse = tracker.latest_message.parse_data if tracker.latest_message else {}
        turn = Turn(user=user, text=text)
        turn.refs["answer_to"] = answer.slot if answer else None
        intent = parse.get("intent") or {}
        turn.intent = {"name": intent.get("name"), "confidence": round(float(intent.get("confidence") or 0.0), 4)}
        turn.entities = [
            {k: e.get(k) for k in ("entity", "value", "start", "end", "extractor") if k in e}
            for e in parse.get("entities", [])
        ]
        self._collect(output.messages, turn, tracker)
        if getattr(turn, "delete_conversation", False):
            await self.delete_conversation(user)
        return turn

    async def delete_conversation(self, user: str) -> None:
        """Erase Rasa's stored conversation for ``user`` (the /delete request)."""
        from sqlalchemy import text as sql

        store = self.agent.tracker_store
        engine = getattr(store, "engine", None) or getattr(getattr(store, "_tracker_store", None), "engine", None)
        if engine is None:
            raise CoachError("this tracker store cannot delete conversations")
        async with self.agent.lock_store.lock(user):
            sqlite = engine.dialect.name == "sqlite"
            with engine.begin() as conn:
                if sqlite:  # Rasa's own engine: our connect-time pragmas are not on it
                    conn.exec_driver_sql("PRAGMA secure_delete=ON")
                conn.execute(sql("DELETE FROM events WHERE sender_id = :sender"), {"sender": user})
            if sqlite and not await asyncio.to_thread(_scrub, engine):
                log.warning("after /delete the SQLite WAL could not be truncated yet (a reader was busy)")
        # Files written for this person (charts, exports) go too.
        safe = _safe_name(user)
        for path in (self.chart_dir / f"progress-{safe}.png", self.chart_dir / _safe_name(f"coach-export-{user}.json")):
            path.unlink(missing_ok=True)

    def _collect(self, messages: list[dict[str, Any]], turn: Turn, tracker: Any = None) -> None:
        for message in messages:
            custom = message.get("custom")
            if isinstance(custom, dict) and custom.get("delete_conversation"):
                turn.delete_conversation = True
                continue
            if isinstance(custom, dict) and "bold" in custom:
                # Formatting for the text reply just before it (names shown in bold).
                texts = [r for r in turn.replies if r.text]
                if texts:
                    texts[-1].bold += [str(b) for b in custom["bold"] if b and str(b) in texts[-1].text]
                continue
            if isinstance(custom, dict) and any(k in custom for k in ("kb_refs", "chart", "document", "picture")):
                if "kb_refs" in custom:
                    merge_refs(turn.refs, custom["kb_refs"])
                if "picture" in custom:
                    turn.replies.append(Reply(text="", image=self._picture(custom["picture"])))
                if "chart" in custom:
                    turn.replies.append(Reply(text=custom.get("caption", ""), image=self._render_chart(turn.user, custom["chart"])))
                if "document" in custom:
                    document = dict(custom["document"])
                    if document.get("include_conversation") and tracker is not None:
                        # The action server cannot see Rasa's tracker; the person's messages and
                        # the bot's answers are theirs too, so the bot adds them here.
                        document["content"] = {**document["content"], "conversation": conversation_of(tracker)}
                    turn.replies.append(Reply(text=custom.get("caption", ""), document=self._write_document(turn.user, document)))
                continue
            buttons = [Button(b.get("title", ""), b.get("payload", "")) for b in message.get("buttons") or []]
            reply = Reply(text=message.get("text") or "", buttons=buttons, image=message.get("image"))
            if reply.text or reply.buttons or reply.image:
                turn.replies.append(reply)

    def _render_chart(self, user: str, chart: dict[str, Any]) -> str:
        from bot.charts import chart_from_data, render_progress_png

        series, zones, weeks = chart_from_data(chart)
        self.chart_dir.mkdir(parents=True, exist_ok=True)
        path = self.chart_dir / f"progress-{_safe_name(user)}.png"
        render_progress_png(series, path, zones, weeks)
        return str(path)

    def _picture(self, picture: dict[str, Any]) -> str:
        """An exercise's picture: drawn once per content, shared by everyone (nothing personal)."""
        from bot.pictures import picture_path

        return str(picture_path(self.chart_dir / "pictures", str(picture["exercise"]), str(picture.get("title", "")),
                                picture["positions"]))

    def _write_document(self, user: str, document: dict[str, Any]) -> str:
        import json

        self.chart_dir.mkdir(parents=True, exist_ok=True)
        name = _safe_name(document.get("name") or f"export-{user}.json")
        path = self.chart_dir / name
        path.write_text(json.dumps(document.get("content"), indent=2, ensure_ascii=False), encoding="utf-8")
        return str(path)


def conversation_of(tracker: Any) -> list[dict[str, Any]]:
    """The person's messages and the bot's answers, oldest first, as plain data."""
    from datetime import datetime, timezone

    lines: list[dict[str, Any]] = []
    for event in tracker.events:
        kind = getattr(event, "type_name", "")
        if kind in ("user", "bot") and getattr(event, "text", None):
            lines.append({
                "from": "you" if kind == "user" else "coach",
                "at": datetime.fromtimestamp(event.timestamp, timezone.utc).isoformat(),
                "text": event.text,
            })
    return lines


def _safe_name(value: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in value)[:80]
