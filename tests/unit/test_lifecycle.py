"""A notice's life: pending, then active or rejected; active until found, cancelled or
expired. Every other move is a conflict (HTTP 409) that names what was tried. An Actual
notice an operator submitted needs another operator's approval."""

import itertools
import uuid

import pytest

from alerts.accounts.service import BOOTSTRAP_OPERATOR_ID
from alerts.errors import Conflict, Forbidden
from alerts.notices.lifecycle import (
    Action,
    InvalidTransition,
    TwoPersonRule,
    check_approver,
    found_rate,
    median_hours,
    next_status,
)
from kit.models import CapStatus, NoticeStatus
from kit.models import NoticeStatus as S

ALLOWED = {
    (S.PENDING, Action.APPROVE): S.ACTIVE,
    (S.PENDING, Action.REJECT): S.REJECTED,
    (S.PENDING, Action.CANCEL): S.CANCELLED,
    (S.ACTIVE, Action.CANCEL): S.CANCELLED,
    (S.ACTIVE, Action.EXPIRE): S.EXPIRED,
    (S.ACTIVE, Action.FOUND): S.FOUND,
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


SUBMITTER = uuid.uuid4()
OTHER = uuid.uuid4()


def test_the_submitter_of_an_actual_notice_cannot_approve_it() -> None:
    with pytest.raises(TwoPersonRule) as raised:
        check_approver(CapStatus.ACTUAL, submitted_by=SUBMITTER, approver=SUBMITTER)
    error = raised.value
    assert isinstance(error, Forbidden)
    assert (error.status_code, error.code) == (403, "two_person_rule")
    assert "other than the one who submitted it" in error.detail


def test_the_issuer_of_the_key_an_actual_notice_came_with_cannot_approve_it() -> None:
    with pytest.raises(TwoPersonRule) as raised:
        check_approver(CapStatus.ACTUAL, key_issuer=SUBMITTER, approver=SUBMITTER)
    assert "issued the agency key" in raised.value.detail
    check_approver(CapStatus.ACTUAL, key_issuer=SUBMITTER, approver=OTHER)


@pytest.mark.parametrize(
    ("submitted_by", "key_issuer", "approver"),
    [
        (None, None, BOOTSTRAP_OPERATOR_ID),
        (SUBMITTER, None, BOOTSTRAP_OPERATOR_ID),
        (BOOTSTRAP_OPERATOR_ID, None, OTHER),
        (None, BOOTSTRAP_OPERATOR_ID, OTHER),
    ],
)
def test_the_bootstrap_credential_is_nobodys_second_person(
    submitted_by: uuid.UUID | None, key_issuer: uuid.UUID | None, approver: uuid.UUID
) -> None:
    with pytest.raises(TwoPersonRule):
        check_approver(
            CapStatus.ACTUAL, submitted_by=submitted_by, key_issuer=key_issuer, approver=approver
        )
    check_approver(
        CapStatus.TEST, submitted_by=submitted_by, key_issuer=key_issuer, approver=approver
    )


@pytest.mark.parametrize(
    ("cap_status", "submitted_by", "approver"),
    [
        (CapStatus.ACTUAL, SUBMITTER, OTHER),
        (CapStatus.ACTUAL, None, OTHER),  # an agency submitted it: the operator is the second
        (CapStatus.TEST, SUBMITTER, SUBMITTER),
        (CapStatus.EXERCISE, SUBMITTER, SUBMITTER),
    ],
)
def test_anyone_else_may_approve_and_drills_need_no_second_person(
    cap_status: CapStatus, submitted_by: uuid.UUID | None, approver: uuid.UUID
) -> None:
    check_approver(cap_status, submitted_by=submitted_by, approver=approver)


@pytest.mark.parametrize(
    ("cap_status", "test_devices_only"),
    [(CapStatus.ACTUAL, False), (CapStatus.TEST, True), (CapStatus.EXERCISE, True)],
)
def test_only_actual_notices_reach_devices_not_flagged_for_tests(
    cap_status: CapStatus, test_devices_only: bool
) -> None:
    assert cap_status.test_devices_only is test_devices_only


def test_the_found_rate_counts_approved_notices_that_ended() -> None:
    counts = {
        NoticeStatus.FOUND: 3,
        NoticeStatus.CANCELLED: 1,
        NoticeStatus.EXPIRED: 0,
        NoticeStatus.REJECTED: 7,
        NoticeStatus.ACTIVE: 2,
    }
    assert found_rate(counts) == 0.75
    assert found_rate({NoticeStatus.ACTIVE: 2}) is None


def test_the_median_time_to_found_is_in_hours() -> None:
    assert median_hours([]) is None
    assert median_hours([3600.0]) == 1.0
    assert median_hours([7200.0, 3600.0, 36000.0]) == 2.0
    assert median_hours([3600.0, 7200.0]) == 1.5
