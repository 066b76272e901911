"""Engine and sessions. The request's session commits once, in the API dependency; tasks use
`session_scope`. Work that must follow a commit (queueing Celery tasks) is registered with
`after_commit` and dropped on rollback, so a rolled-back notice never broadcasts."""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Boolean, ColumnElement, Engine, Text, cast, create_engine, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from kit.config import get_settings

_AFTER_COMMIT = "hexcast.after_commit"


@lru_cache
def get_engine() -> Engine:
    return create_engine(
        get_settings().database_url, pool_pre_ping=True, pool_size=10, max_overflow=20
    )


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(get_engine(), expire_on_commit=False)


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's current transaction has committed."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, []):
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


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
