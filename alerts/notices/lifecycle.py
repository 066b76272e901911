"""Notice state transitions and who may approve, as pure rules."""

import enum
import uuid

from alerts.errors import Conflict, Forbidden
from kit.models import CapStatus, NoticeStatus


class Action(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    EXPIRE = "expire"
    FOUND = "found"


_TRANSITIONS: dict[tuple[NoticeStatus, Action], NoticeStatus] = {
    (NoticeStatus.PENDING, Action.APPROVE): NoticeStatus.ACTIVE,
    (NoticeStatus.PENDING, Action.REJECT): NoticeStatus.REJECTED,
    (NoticeStatus.PENDING, Action.CANCEL): NoticeStatus.CANCELLED,
    (NoticeStatus.ACTIVE, Action.CANCEL): NoticeStatus.CANCELLED,
    (NoticeStatus.ACTIVE, Action.EXPIRE): NoticeStatus.EXPIRED,
    (NoticeStatus.ACTIVE, Action.FOUND): NoticeStatus.FOUND,
}


class InvalidTransition(Conflict):
    code = "invalid_transition"


class TwoPersonRule(Forbidden):
    code = "two_person_rule"


def next_status(current: NoticeStatus, action: Action) -> NoticeStatus:
    try:
        return _TRANSITIONS[(current, action)]
    except KeyError:
        raise InvalidTransition(f"cannot {action} a notice that is {current}") from None


def check_approver(
    cap_status: CapStatus, *, submitted_by: uuid.UUID | None, approver: uuid.UUID | None
) -> None:
    """An Actual notice an operator submitted needs a second operator to approve it, so no
    one person can send a real alert alone. Test and Exercise notices reach only test
    devices and can never become Actual, so their submitter may approve them: a drill can
    be run by whoever is on shift."""
    if cap_status is CapStatus.ACTUAL and submitted_by is not None and submitted_by == approver:
        raise TwoPersonRule(
            "an Actual notice must be approved by an operator other than the one who submitted it"
        )


ENDED = (NoticeStatus.FOUND, NoticeStatus.CANCELLED, NoticeStatus.EXPIRED)


def found_rate(approved: dict[NoticeStatus, int]) -> float | None:
    """Of the approved notices that ended, the share whose person was found; None before any
    ended. Counted over approved notices only: one rejected, or cancelled before approval,
    never went out, and would read as a person not found."""
    ended = sum(approved.get(status, 0) for status in ENDED)
    return approved.get(NoticeStatus.FOUND, 0) / ended if ended else None


def median_hours(durations_s: list[float]) -> float | None:
    if not durations_s:
        return None
    ordered = sorted(durations_s)
    middle = len(ordered) // 2
    seconds = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return seconds / 3600
