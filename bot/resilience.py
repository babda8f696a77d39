"""Faults survived: a :class:`~bot.turns.Coach` wrapper that never raises to the front end.

How Rasa 3.6 behaves without it (read from ``rasa/core/actions/action.py``, ``processor.py``,
``tracker_store.py`` and ``utils/endpoints.py``):

* **Action server down.** ``RemoteAction.run`` turns the connection error into a
  ``RasaException``; ``MessageProcessor._run_action`` logs it and carries on *without the
  action's events or messages*. The turn "succeeds" with no reply (or only a template reply),
  and nobody upstream can tell.
* **Action server slow.** ``RemoteAction.run`` passes ``timeout=DEFAULT_REQUEST_TIMEOUT``
  (300 s) to every call, so the ``timeout`` given to ``EndpointConfig`` is ignored. A slow
  server holds the turn for five minutes; a front end that gives up first cancels the turn,
  and as the tracker is only saved at the end of a turn, the user's message is lost.
* **Database unavailable.** ``Agent`` wraps the tracker store in ``FailSafeTrackerStore``: a
  failed *read* returns ``None``, so the processor silently starts a fresh conversation (slots,
  open form and history gone for that turn and saved over); a failed *save* falls back to an
  in-memory store, so the turn vanishes at the next restart.

What :class:`ResilientCoach` does instead (installed on the agent of the wrapped coach when it
has one, i.e. :class:`bot.rasa_bridge.RasaCoach`):

* every action-server call gets the configured timeout (``ACTION_TIMEOUT``); after one call of
  a turn failed or timed out, the remaining calls of that turn fail at once (the policy may
  predict more custom actions), so a turn costs at most one timeout. The turn still finishes,
  so the user's message and the failed action are saved in the tracker; the user gets a short
  apology. The next turn tries the server again, so the conversation resumes once it is back.
* the tracker store is replaced by :class:`RetryingTrackerStore`: reads and saves are retried
  with exponential backoff and then *raise* (no silent fresh tracker, no in-memory fallback);
  the wrapper answers with a polite apology.
* any other exception becomes the generic apology. ``asyncio.CancelledError`` (shutdown) is
  not an error and still propagates.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Optional

from bot.turns import Coach, Reply, Turn

log = logging.getLogger(__name__)

ACTION_APOLOGY = (
    "Sorry, part of me isn't answering right now, so I couldn't finish that. "
    "I've kept your message; please try again in a minute."
)
DATABASE_APOLOGY = (
    "Sorry, I can't reach my notes right now, so I couldn't take that in. "
    "Please send it again in a minute."
)
GENERIC_APOLOGY = "Sorry, something went wrong on my side. Please try again in a minute."
NO_REPLY = "Sorry, I didn't catch that. Send /help to see what I can do."

Sleep = Callable[[float], Awaitable[None]]


class DatabaseUnavailable(Exception):
    """The tracker store failed on every attempt (raised instead of Rasa's silent fallback)."""

    def __init__(self, operation: str, attempts: int, cause: BaseException) -> None:
        super().__init__(f"tracker store {operation} failed {attempts} time(s): {type(cause).__name__}")
        self.operation = operation
        self.attempts = attempts
        self.cause = cause


@dataclass
class TurnFaults:
    """What went wrong during one turn (one per :meth:`ResilientCoach.handle`, via a contextvar)."""

    action_failures: list[str] = field(default_factory=list)  # "action_name: reason"
    db_retries: int = 0

    @property
    def action_server_failed(self) -> bool:
        return bool(self.action_failures)


_turn_faults: contextvars.ContextVar[Optional[TurnFaults]] = contextvars.ContextVar("turn_faults", default=None)


def current_faults() -> Optional[TurnFaults]:
    return _turn_faults.get()


def is_transient_db_error(exc: BaseException) -> bool:
    """Errors worth retrying: the database was locked, restarted, or dropped the connection."""
    try:
        from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, TimeoutError as PoolTimeout
    except ImportError:  # pragma: no cover
        return False
    if isinstance(exc, (OperationalError, DisconnectionError, PoolTimeout)):
        return True
    if isinstance(exc, DBAPIError) and getattr(exc, "connection_invalidated", False):
        return True
    name = type(exc).__name__
    return name in {"InterfaceError", "OperationalError"}  # driver errors not wrapped by SQLAlchemy


async def retry_with_backoff(
    operation: str,
    call: Callable[[], Awaitable[Any]],
    *,
    attempts: int,
    backoff_s: float,
    max_backoff_s: float,
    sleep: Sleep = asyncio.sleep,
    retryable: Callable[[BaseException], bool] = is_transient_db_error,
) -> Any:
    """``await call()``, retried on transient database errors: waits ``backoff_s``, then twice
    that, ... (capped, with a little jitter); after ``attempts`` failures raises
    :class:`DatabaseUnavailable`."""
    delay = backoff_s
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:
            if not retryable(exc):
                raise
            faults = current_faults()
            if faults is not None:
                faults.db_retries += 1
            if attempt >= attempts:
                log.error("database %s failed after %d attempts: %s", operation, attempt, type(exc).__name__)
                raise DatabaseUnavailable(operation, attempt, exc) from exc
            log.warning("database %s failed (%s), retry %d in %.2fs", operation, type(exc).__name__, attempt, delay)
            await sleep(delay * (1 + random.uniform(0, 0.1)))
            delay = min(max_backoff_s, delay * 2)
    raise AssertionError("unreachable")  # pragma: no cover


# --- the tracker store --------------------------------------------------------------------


def _tracker_store_base() -> type:
    from rasa.core.tracker_store import TrackerStore

    return TrackerStore


def make_retrying_tracker_store(
    primary: Any, *, attempts: int = 5, backoff_s: float = 0.25, max_backoff_s: float = 4.0, sleep: Sleep = asyncio.sleep
) -> Any:
    """A tracker store that delegates to ``primary`` (e.g. Rasa's SQLTrackerStore), retries
    transient database errors, and then raises :class:`DatabaseUnavailable`."""
    base = _tracker_store_base()

    class RetryingTrackerStore(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            # Same attribute name as FailSafeTrackerStore, so code that looks for the SQL engine
            # (RasaCoach.delete_conversation) still finds it.
            self._tracker_store = primary
            # Attributes, so that an operator (or a test) can tune the budget of a running bot.
            self.attempts, self.backoff_s, self.max_backoff_s, self.sleep = attempts, backoff_s, max_backoff_s, sleep
            super().__init__(primary.domain, primary.event_broker)

        @property
        def domain(self) -> Any:
            return self._tracker_store.domain

        @domain.setter
        def domain(self, domain: Any) -> None:
            self._tracker_store.domain = domain

        @property
        def engine(self) -> Any:
            return getattr(self._tracker_store, "engine", None)

        async def _retry(self, operation: str, call: Callable[[], Awaitable[Any]]) -> Any:
            return await retry_with_backoff(
                operation, call, attempts=self.attempts, backoff_s=self.backoff_s,
                max_backoff_s=self.max_backoff_s, sleep=self.sleep,
            )

        async def retrieve(self, sender_id: str) -> Any:
            return await self._retry("read", lambda: self._tracker_store.retrieve(sender_id))

        async def retrieve_full_tracker(self, conversation_id: str) -> Any:
            return await self._retry("read", lambda: self._tracker_store.retrieve_full_tracker(conversation_id))

        async def save(self, tracker: Any) -> None:
            # SQLTrackerStore.save writes only the events beyond those already stored, in one
            # transaction: a retry after a failed commit writes each event once.
            await self._retry("save", lambda: self._tracker_store.save(tracker))

        async def keys(self) -> Iterable[str]:
            return await self._retry("keys", lambda: self._tracker_store.keys())

    return RetryingTrackerStore()


def primary_tracker_store(store: Any) -> Any:
    """The real store under Rasa's FailSafeTrackerStore / AwaitableTrackerStore wrappers."""
    seen = 0
    while type(store).__name__ in ("FailSafeTrackerStore", "AwaitableTrackerStore", "RetryingTrackerStore") and seen < 5:
        store = store._tracker_store
        seen += 1
    return store


# --- the action endpoint ------------------------------------------------------------------


def make_guarded_endpoint(endpoint: Any, timeout_s: float) -> Any:
    """A copy of Rasa's action ``EndpointConfig`` whose calls time out after ``timeout_s``
    (Rasa itself always waits 300 s), record failures in the turn's :class:`TurnFaults`, and
    fail at once after one call of the same turn failed."""
    import aiohttp
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    class GuardedActionEndpoint(EndpointConfig):
        async def request(self, method: str = "post", subpath: Optional[str] = None, *args: Any, **kwargs: Any) -> Any:
            faults = current_faults()
            action = _action_name(kwargs.get("json"))
            if faults is not None and faults.action_server_failed:
                # Fail fast: aiohttp's connection error is what RemoteAction expects.
                raise aiohttp.ClientConnectionError(f"action server skipped for {action} (failed earlier this turn)")
            kwargs.pop("timeout", None)
            limit = self.timeout_s
            try:
                return await asyncio.wait_for(super().request(method, subpath, *args, **kwargs), limit)
            except asyncio.TimeoutError:
                self._record(faults, action, f"timeout after {limit:g}s")
                raise aiohttp.ServerTimeoutError(f"action server did not answer {action} within {limit:g}s") from None
            except ClientResponseError as exc:
                if exc.status != 400:  # 400 is an action rejecting itself: a normal outcome
                    self._record(faults, action, f"HTTP {exc.status}")
                raise
            except (aiohttp.ClientError, OSError) as exc:
                self._record(faults, action, type(exc).__name__)
                raise

        @staticmethod
        def _record(faults: Optional[TurnFaults], action: str, reason: str) -> None:
            log.warning("action server failed for %s: %s", action, reason)
            if faults is not None:
                faults.action_failures.append(f"{action}: {reason}")

    guarded = GuardedActionEndpoint(
        url=endpoint.url,
        params=endpoint.params,
        headers=endpoint.headers,
        basic_auth=endpoint.basic_auth,
        token=endpoint.token,
        token_name=endpoint.token_name,
        cafile=endpoint.cafile,
        **endpoint.kwargs,
    )
    guarded.type = endpoint.type
    guarded.timeout_s = timeout_s
    return guarded


def _action_name(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("next_action") or "?")
    return "?"


def install_rasa_guards(
    agent: Any,
    *,
    action_timeout_s: Optional[float] = None,
    db_attempts: int = 5,
    db_backoff_s: float = 0.25,
    db_max_backoff_s: float = 4.0,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Put the guarded action endpoint and the retrying tracker store into a loaded Rasa
    ``Agent`` (and its processor). Idempotent."""
    processor = agent.processor
    endpoint = getattr(processor, "action_endpoint", None) or getattr(agent, "action_endpoint", None)
    if endpoint is not None and type(endpoint).__name__ != "GuardedActionEndpoint":
        timeout = action_timeout_s or float(endpoint.kwargs.get("timeout") or 10.0)
        guarded = make_guarded_endpoint(endpoint, timeout)
        processor.action_endpoint = guarded
        agent.action_endpoint = guarded
    store = agent.tracker_store
    if type(store).__name__ != "RetryingTrackerStore":
        retrying = make_retrying_tracker_store(
            primary_tracker_store(store),
            attempts=db_attempts,
            backoff_s=db_backoff_s,
            max_backoff_s=db_max_backoff_s,
            sleep=sleep,
        )
        agent.tracker_store = retrying
        processor.tracker_store = retrying


# --- the coach wrapper ----------------------------------------------------------------------


class ResilientCoach:
    """Implements :class:`bot.turns.Coach` around another coach; never raises (except
    cancellation). ``faults_of_last_turn`` tells tests and the health check what happened."""

    def __init__(
        self,
        inner: Coach,
        *,
        action_timeout_s: Optional[float] = None,
        db_attempts: int = 5,
        db_backoff_s: float = 0.25,
        db_max_backoff_s: float = 4.0,
        sleep: Sleep = asyncio.sleep,
        install: bool = True,
    ) -> None:
        self.inner = inner
        self.faults_of_last_turn: Optional[TurnFaults] = None
        agent = getattr(inner, "agent", None)
        if install and agent is not None:
            install_rasa_guards(
                agent,
                action_timeout_s=action_timeout_s,
                db_attempts=db_attempts,
                db_backoff_s=db_backoff_s,
                db_max_backoff_s=db_max_backoff_s,
                sleep=sleep,
            )

    def __getattr__(self, name: str) -> Any:  # agent, delete_conversation... of the inner coach
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    async def handle(self, user: str, text: str, metadata: dict[str, Any] | None = None) -> Turn:
        faults = TurnFaults()
        token = _turn_faults.set(faults)
        try:
            turn = await self.inner.handle(user, text, metadata)
        except asyncio.CancelledError:
            raise
        except DatabaseUnavailable as exc:
            log.error("turn for %s failed: %s", user, exc)
            turn = Turn(user=user, text=text, replies=[Reply(DATABASE_APOLOGY)])
        except Exception as exc:  # noqa: BLE001 - the point of this class
            if is_transient_db_error(exc):
                log.error("turn for %s failed: database %s", user, type(exc).__name__)
                turn = Turn(user=user, text=text, replies=[Reply(DATABASE_APOLOGY)])
            else:
                log.error("turn for %s failed: %s", user, type(exc).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
                turn = Turn(user=user, text=text, replies=[Reply(GENERIC_APOLOGY)])
        finally:
            _turn_faults.reset(token)
            self.faults_of_last_turn = faults
        if faults.action_server_failed:
            turn.replies.append(Reply(ACTION_APOLOGY))
        if not any(r.text or r.image or r.document for r in turn.replies):
            turn.replies.append(Reply(NO_REPLY))  # a turn always answers something
        return turn
