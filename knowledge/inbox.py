"""The inbox: every incoming update written down before the front end confirms it.

Telegram forgets an update once the next ``getUpdates`` confirms it (and a webhook's POST once
it is answered 200). Writing each update here first, keyed by its ``update_id``, and marking it
handled only after its turn finished means a crash at any moment leaves it here, to be handled
by the next process, instead of lost. The same ``update_id`` arriving twice is recorded once.

The payload (the message as the front end received it, so health data) is kept only until the
update is handled; handled rows keep just their ids, for de-duplication, and are pruned after
:data:`KEEP_HANDLED`. Rows carry the chat as ``user_id``, so ``/export`` and ``/delete`` cover
them like every other table.

Plain SQLAlchemy: the front end passes JSON text in and gets it back; nothing here knows
Telegram's types.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import BigInteger, Column, DateTime, String, Text, delete, or_, select, update
from sqlalchemy.orm import Session

from knowledge.clock import naive_utc
from knowledge.db import Base, in_chunks

# In webhook mode a process takes over another's unhandled update after this long: longer than
# any turn takes (the coach's 60 s and the send budgets), so the other process is gone.
TAKE_OVER_AFTER = timedelta(minutes=5)
# Handled ids stay this long: a webhook retry or a redelivery after a crash comes within minutes,
# and Telegram may pick update ids at random again after a week without updates.
KEEP_HANDLED = timedelta(days=2)


class InboxUpdate(Base):
    __tablename__ = "inbox_updates"

    # Update ids count per bot: a second bot (a new token) on the same database starts its own.
    bot_id: int = Column(BigInteger, primary_key=True, autoincrement=False)
    update_id: int = Column(BigInteger, primary_key=True, autoincrement=False)
    user_id: str | None = Column(String(128), nullable=True, index=True)  # the chat; None: no chat
    # All instants are naive UTC, as in the reminder log.
    received_at: datetime = Column(DateTime, nullable=False)
    payload: str | None = Column(Text, nullable=True)  # None once handled
    handled_at: datetime | None = Column(DateTime, nullable=True, index=True)
    # The process handling it, and since when. Several webhook processes share one inbox: a
    # process takes over another's unhandled update only once that one is older than a lease
    # (its process is then taken to be dead), or at once when it was released (a clean stop).
    taken_by: str | None = Column(String(64), nullable=True)
    taken_at: datetime | None = Column(DateTime, nullable=True)


@dataclass(frozen=True)
class Incoming:
    update_id: int
    user_id: str | None
    payload: str


def record(session: Session, bot_id: int, incoming: Sequence[Incoming], now: datetime, owner: str) -> list[int]:
    """Write the updates not seen before (one commit), taken by ``owner``, and return their ids
    in the order given. An id already here, handled or not, is not returned: a redelivery."""
    if not incoming:
        return []
    ids = [i.update_id for i in incoming]
    known: set[int] = set()
    for chunk in in_chunks(ids):
        known.update(session.execute(
            select(InboxUpdate.update_id).where(InboxUpdate.bot_id == bot_id, InboxUpdate.update_id.in_(chunk))
        ).scalars())
    fresh: list[int] = []
    at = naive_utc(now)
    for item in incoming:
        if item.update_id in known:
            continue
        known.add(item.update_id)
        session.add(InboxUpdate(
            bot_id=bot_id, update_id=item.update_id, user_id=item.user_id, received_at=at, payload=item.payload,
            taken_by=owner, taken_at=at,
        ))
        fresh.append(item.update_id)
    session.commit()
    return fresh


def take_pending(
    session: Session, bot_id: int, owner: str, now: datetime, *, taken_before: datetime | None = None
) -> list[Incoming]:
    """Take over the unhandled updates, oldest first, and return them: all of them (``taken_before``
    None: this is the only process, as with long polling), or only those released or taken
    before ``taken_before`` (another process may still be working on the newer ones). Each row
    is taken with a compare-and-set, so two processes never take the same one."""
    query = select(InboxUpdate.update_id, InboxUpdate.user_id, InboxUpdate.payload, InboxUpdate.taken_at).where(
        InboxUpdate.bot_id == bot_id, InboxUpdate.handled_at.is_(None), InboxUpdate.payload.is_not(None)
    )
    if taken_before is not None:
        query = query.where(or_(InboxUpdate.taken_at.is_(None), InboxUpdate.taken_at < naive_utc(taken_before)))
    taken: list[Incoming] = []
    at = naive_utc(now)
    for update_id, user_id, payload, taken_at in session.execute(query.order_by(InboxUpdate.update_id)).all():
        same = InboxUpdate.taken_at.is_(None) if taken_at is None else InboxUpdate.taken_at == taken_at
        result = session.execute(
            update(InboxUpdate)
            .where(InboxUpdate.bot_id == bot_id, InboxUpdate.update_id == update_id,
                   InboxUpdate.handled_at.is_(None), same)
            .values(taken_by=owner, taken_at=at)
        )
        if result.rowcount:
            taken.append(Incoming(update_id, user_id, payload))
    session.commit()
    return taken


def release(session: Session, bot_id: int, owner: str) -> int:
    """A clean stop: ``owner``'s unhandled updates may be taken by any process at once."""
    result = session.execute(
        update(InboxUpdate)
        .where(InboxUpdate.bot_id == bot_id, InboxUpdate.taken_by == owner, InboxUpdate.handled_at.is_(None))
        .values(taken_by=None, taken_at=None)
    )
    session.commit()
    return result.rowcount or 0


def mark_handled(session: Session, bot_id: int, update_ids: Iterable[int], now: datetime) -> int:
    """Mark updates handled and drop their payloads (one commit); returns how many rows changed."""
    ids = list(update_ids)
    changed = 0
    for chunk in in_chunks(ids):
        result = session.execute(
            update(InboxUpdate)
            .where(InboxUpdate.bot_id == bot_id, InboxUpdate.update_id.in_(chunk), InboxUpdate.handled_at.is_(None))
            .values(handled_at=naive_utc(now), payload=None, taken_by=None, taken_at=None)
        )
        changed += result.rowcount or 0
    session.commit()
    return changed


def prune(session: Session, now: datetime, keep: timedelta = KEEP_HANDLED) -> int:
    """Forget handled updates older than ``keep``; returns how many went."""
    result = session.execute(delete(InboxUpdate).where(InboxUpdate.handled_at < naive_utc(now) - keep))
    session.commit()
    return result.rowcount or 0
