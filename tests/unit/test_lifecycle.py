"""A notice's life: pending, then active or rejected; active until cancelled or expired.
Every other move is a conflict (HTTP 409) that names what was tried."""

import itertools

import pytest

from alerts.errors import Conflict
from alerts.lifecycle import Action, InvalidTransition, next_status
from kit.models import NoticeStatus as S

ALLOWED = {
    (S.PENDING, Action.APPROVE): S.ACTIVE,
    (S.PENDING, Action.REJECT): S.REJECTED,
    (S.PENDING, Action.CANCEL): S.CANCELLED,
    (S.ACTIVE, Action.CANCEL): S.CANCELLED,
    (S.ACTIVE, Action.EXPIRE): S.EXPIRED,
}
DISALLOWED = sorted(set(itertools.product(S, Action)) - set(ALLOWED))


@pytest.mark.parametrize(("current", "action"), sorted(ALLOWED))
def test_an_allowed_action_moves_the_notice_on(current: S, action: Action) -> None:
    assert next_status(current, action) == ALLOWED[(current, action)]


@pytest.mark.parametrize(("current", "action"), DISALLOWED)
def test_any_other_action_is_a_409_conflict_naming_action_and_status(
    current: S, action: Action
) -> None:
    with pytest.raises(InvalidTransition) as raised:
        next_status(current, action)
    error = raised.value
    assert isinstance(error, Conflict)
    assert (error.status_code, error.code) == (409, "invalid_transition")
    assert error.detail == f"cannot {action} a notice that is {current}"
