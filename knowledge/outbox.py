"""The outbox: replies Telegram would not take within the send budgets, kept for a later pass.

A reply that still fails after the front end's retries (5xx and network errors for a minute,
429s for two) is written here instead of being dropped, with everything that followed it in
the same turn; a pass of the front end delivers the rows of each chat in order, oldest first,
and deletes each one as Telegram accepts it. While a chat has rows here, its new replies are
queued behind them, so the person reads them in the order they were written.

Several processes may share one outbox (webhook workers): a pass *claims* a chat's due rows
with a compare-and-set on ``next_try_at`` (moving it a lease ahead), so two processes never
send the same row; a process that dies holding a claim leaves the rows to be tried again once
the lease is over. The one instant that can send a row twice is a process killed after
Telegram accepted the row and before its delete committed (docs/deploy.md says so).

Rows carry the chat as ``user_id``, so ``/export`` and ``/delete`` cover them; a row older
than :data:`GIVE_UP_AFTER` is dropped (and the front end logs it as an error): a coach's reply
a day late would only confuse.

Plain SQLAlchemy: the front end passes JSON text in and gets it back; nothing here knows
Telegram's types.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Text, delete, func, select, update
from sqlalchemy.orm import Session

from knowledge.clock import naive_utc
from knowledge.db import Base

# A claim lasts this long: longer than one pass over a chat takes with the send budgets.
CLAIM_FOR = timedelta(minutes=5)
# After a failed pass a chat's rows wait this long, doubling up to RETRY_MOST.
RETRY_FIRST = timedelta(seconds=15)
RETRY_MOST = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(hours=24)


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    id: int = Column(Integer, primary_key=True, autoincrement=True)  # the order of writing
    bot_id: int = Column(BigInteger, nullable=False)
    user_id: str = Column(String(128), nullable=False, index=True)  # the chat
    payload: str = Column(Text, nullable=False)  # the rendered message, as the front end wrote it
    # All instants are naive UTC, as in the inbox and the reminder log.
    created_at: datetime = Column(DateTime, nullable=False)
    next_try_at: datetime = Column(DateTime, nullable=False, index=True)
    attempts: int = Column(Integer, nullable=False, default=0)
    last_error: str | None = Column(String(200), nullable=True)  # an exception's type, never text


@dataclass(frozen=True)
class Kept:
    id: int
    user_id: str
    payload: str
    created_at: datetime
    attempts: int


def keep(session: Session, bot_id: int, user_id: str, payloads: Sequence[str], now: datetime, error: str | None) -> int:
    """Write a chat's unsent messages, in order, due at once (one commit); returns how many."""
    at = naive_utc(now)
    for payload in payloads:
        session.add(OutboxMessage(
            bot_id=bot_id, user_id=user_id, payload=payload, created_at=at, next_try_at=at,
            attempts=0, last_error=error,
        ))
    session.commit()
    return len(payloads)


def chats_waiting(session: Session, bot_id: int) -> set[str]:
    """The chats with messages in the outbox, due or not."""
    return set(session.execute(
        select(OutboxMessage.user_id).where(OutboxMessage.bot_id == bot_id).distinct()
    ).scalars())


def due_chats(session: Session, bot_id: int, now: datetime, limit: int = 100) -> list[str]:
    """Chats whose oldest row is due, the longest waiting first."""
    oldest = func.min(OutboxMessage.id)
    rows = session.execute(
        select(OutboxMessage.user_id)
        .where(OutboxMessage.bot_id == bot_id, OutboxMessage.next_try_at <= naive_utc(now))
        .group_by(OutboxMessage.user_id)
        .order_by(oldest)
        .limit(limit)
    ).scalars()
    return list(rows)


def claim(session: Session, bot_id: int, user_id: str, now: datetime) -> list[Kept]:
    """Take a chat's rows for one pass, oldest first, if its oldest row is due and nobody else
    claimed it meanwhile (compare-and-set on that row's ``next_try_at``); [] otherwise."""
    at = naive_utc(now)
    first = session.execute(
        select(OutboxMessage.id, OutboxMessage.next_try_at)
        .where(OutboxMessage.bot_id == bot_id, OutboxMessage.user_id == user_id)
        .order_by(OutboxMessage.id)
        .limit(1)
    ).first()
    if first is None or first.next_try_at > at:
        session.rollback()
        return []
    won = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == first.id, OutboxMessage.next_try_at == first.next_try_at)
        .values(next_try_at=at + CLAIM_FOR)
    ).rowcount
    if not won:
        session.rollback()
        return []
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.bot_id == bot_id, OutboxMessage.user_id == user_id, OutboxMessage.id != first.id)
        .values(next_try_at=at + CLAIM_FOR)
    )
    session.commit()
    rows = session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.bot_id == bot_id, OutboxMessage.user_id == user_id)
        .order_by(OutboxMessage.id)
    ).scalars().all()
    kept = [Kept(r.id, r.user_id, r.payload, r.created_at, r.attempts) for r in rows]
    session.commit()
    return kept


def sent(session: Session, row_id: int) -> None:
    """Telegram took it: gone (one commit)."""
    session.execute(delete(OutboxMessage).where(OutboxMessage.id == row_id))
    session.commit()


def failed(session: Session, bot_id: int, user_id: str, now: datetime, error: str) -> datetime:
    """A pass over the chat stopped at a failure: its rows wait (back-off by their attempts)
    and count one more attempt. Returns when they are due again."""
    at = naive_utc(now)
    attempts = session.execute(
        select(func.max(OutboxMessage.attempts))
        .where(OutboxMessage.bot_id == bot_id, OutboxMessage.user_id == user_id)
    ).scalar() or 0
    wait = min(RETRY_FIRST * (2 ** attempts), RETRY_MOST)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.bot_id == bot_id, OutboxMessage.user_id == user_id)
        .values(next_try_at=at + wait, attempts=attempts + 1, last_error=error[:200])
    )
    session.commit()
    return at + wait


def release(session: Session, bot_id: int, user_id: str, now: datetime) -> None:
    """A pass that stopped without a failure of Telegram's (a clean stop): due again at once."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.bot_id == bot_id, OutboxMessage.user_id == user_id)
        .values(next_try_at=naive_utc(now))
    )
    session.commit()


def drop_stale(session: Session, bot_id: int, now: datetime, older_than: timedelta = GIVE_UP_AFTER) -> int:
    """Give up rows written more than ``older_than`` ago; returns how many went."""
    result = session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.bot_id == bot_id, OutboxMessage.created_at < naive_utc(now) - older_than)
    )
    session.commit()
    return result.rowcount or 0
