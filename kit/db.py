"""Engine and sessions. The request's session commits once, in the API dependency; tasks use
`session_scope`. Work that must follow a commit (queueing Celery tasks) is registered with
`after_commit` and dropped on rollback, so a rolled-back notice never broadcasts."""

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import BigInteger, Boolean, ColumnElement, Engine, Text, cast, create_engine, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from kit.config import get_settings

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

_AFTER_COMMIT = "hexcast.after_commit"
_SAVEPOINTS = "hexcast.after_commit.savepoints"  # savepoint -> work registered before it
# deadlock_detected, serialization_failure: PostgreSQL failed the statement to let another
# transaction through, and the same work tried again may well succeed.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})


@lru_cache
def get_engine() -> Engine:
    return create_engine(
        get_settings().database_url, pool_pre_ping=True, pool_size=10, max_overflow=20
    )


@lru_cache
def get_replica_engine() -> Engine | None:
    url = get_settings().replica_database_url
    if not url:
        return None
    # A stopped replica refuses at once; one that does not answer costs at most 2 s.
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args={"connect_timeout": 2}
    )


@contextmanager
def replica_session_scope() -> Iterator[Session]:
    """A session for reads that tolerate replication lag: on the replica when one is set and
    answers, else on the primary, so a replica that is down costs no request. Nothing is
    written through it (a standby refuses writes); it ends in a rollback."""
    engine = get_replica_engine()
    connection = None
    if engine is not None:
        try:
            connection = engine.connect()
        except OperationalError:
            log.warning("db.replica_unavailable reading=primary")
    try:
        with Session(connection if connection is not None else get_engine()) as session:
            yield session
            session.rollback()
    finally:
        if connection is not None:
            connection.close()


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(get_engine(), expire_on_commit=False)


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's current transaction has committed."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


# SQLAlchemy dispatches after_commit for a released SAVEPOINT too, while the outer
# transaction is still open: work run then was queued before the data it names was
# committed (a worker found a webhook event not there yet) and outlived a rollback of the
# outer transaction. Work waits for the outermost commit; a savepoint rolled back drops only
# the work registered inside it.
@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_SAVEPOINTS, {})
        marks[transaction] = len(session.info.get(_AFTER_COMMIT, []))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is not None:
        session.info.get(_SAVEPOINTS, {}).pop(savepoint, None)
        return
    session.info.pop(_SAVEPOINTS, None)
    for callback in session.info.pop(_AFTER_COMMIT, []):
        callback()


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.nested:
        mark = session.info.get(_SAVEPOINTS, {}).pop(previous_transaction, None)
        if mark is not None:
            del session.info.get(_AFTER_COMMIT, [])[mark:]
    elif previous_transaction.parent is None:
        session.info.pop(_SAVEPOINTS, None)
        session.info.pop(_AFTER_COMMIT, None)


def retry_conflicts(session: Session, work: Callable[[], T], *, attempts: int = 3) -> T:
    """`work()` in a savepoint, run again (up to `attempts` runs) when PostgreSQL fails it
    to break a deadlock or a serialization conflict. Only the savepoint is undone: what the
    transaction did and locked before it stays, and so does the work it registered with
    `after_commit`; what a failed attempt registered is dropped with it."""
    for attempt in range(1, attempts + 1):
        try:
            with session.begin_nested():
                return work()
        except BaseException as error:
            sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
            if not isinstance(error, DBAPIError) or sqlstate not in RETRIED_SQLSTATES:
                raise
            if attempt == attempts:
                raise
            log.warning("db.retry sqlstate=%s attempt=%d", sqlstate, attempt)
    raise AssertionError("unreachable")


def retrying_conflicts(
    change: Callable[Concatenate[Session, P], T],
) -> Callable[Concatenate[Session, P], T]:
    """A service function whose change PostgreSQL failed to break a deadlock or a
    serialization conflict is made again, a few times, rather than answered with a 500.
    With every path locking in one order none should deadlock: this is the net."""

    @functools.wraps(change)
    def retried(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return retry_conflicts(session, lambda: change(session, *args, **kwargs))

    return retried


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error: for tasks and scripts."""
    with get_sessionmaker()() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def bigint_array(values: Iterable[int]) -> ColumnElement[Any]:
    """`values` as one bigint[] parameter, sent in PostgreSQL's text form: psycopg's array
    dumper costs several µs an element in Python, which made up much of a worker's database
    time on batches of 500 ids; joining integers costs a fraction of that."""
    return cast(cast(int_array_text(values), Text), ARRAY(BigInteger))


def int_array_text(values: Iterable[int]) -> str:
    """`values` as a PostgreSQL array literal, for a parameter cast to an integer array."""
    return "{" + ",".join(map(str, values)) + "}"


def bool_array(values: Iterable[bool]) -> ColumnElement[Any]:
    """`values` as one boolean[] parameter (see `bigint_array`)."""
    return cast(cast("{" + ",".join("t" if v else "f" for v in values) + "}", Text), ARRAY(Boolean))
