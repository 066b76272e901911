"""Work queued for after a commit (Celery tasks) runs once the outermost transaction has
committed, never when a savepoint is released, and a rolled-back savepoint drops only the work
queued inside it."""

from functools import partial

import pytest

from kit.db import after_commit, session_scope


@pytest.mark.usefixtures("database")
def test_work_waits_for_the_outer_commit_and_a_rolled_back_savepoint_drops_its_own() -> None:
    queued: list[str] = []
    with session_scope() as session:
        after_commit(session, partial(queued.append, "before the savepoints"))
        with session.begin_nested():
            after_commit(session, partial(queued.append, "in a released savepoint"))
        assert queued == [], "a released savepoint is not a commit"
        with pytest.raises(ValueError), session.begin_nested():
            after_commit(session, partial(queued.append, "in a rolled-back savepoint"))
            raise ValueError
        with session.begin_nested(), session.begin_nested():
            after_commit(session, partial(queued.append, "in nested savepoints"))
        assert queued == []
    assert queued == ["before the savepoints", "in a released savepoint", "in nested savepoints"]


@pytest.mark.usefixtures("database")
def test_a_rolled_back_transaction_runs_none_of_its_work() -> None:
    queued: list[str] = []
    with pytest.raises(ValueError), session_scope() as session:
        after_commit(session, partial(queued.append, "before"))
        with session.begin_nested():
            after_commit(session, partial(queued.append, "in a savepoint"))
        raise ValueError
    with session_scope() as session:
        after_commit(session, partial(queued.append, "the next transaction"))
    assert queued == ["the next transaction"]
