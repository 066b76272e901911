"""Notice state transitions, as a pure table."""

import enum

from alerts.errors import Conflict
from kit.models import NoticeStatus


class Action(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    EXPIRE = "expire"


_TRANSITIONS: dict[tuple[NoticeStatus, Action], NoticeStatus] = {
    (NoticeStatus.PENDING, Action.APPROVE): NoticeStatus.ACTIVE,
    (NoticeStatus.PENDING, Action.REJECT): NoticeStatus.REJECTED,
    (NoticeStatus.PENDING, Action.CANCEL): NoticeStatus.CANCELLED,
    (NoticeStatus.ACTIVE, Action.CANCEL): NoticeStatus.CANCELLED,
    (NoticeStatus.ACTIVE, Action.EXPIRE): NoticeStatus.EXPIRED,
}


class InvalidTransition(Conflict):
    code = "invalid_transition"


def next_status(current: NoticeStatus, action: Action) -> NoticeStatus:
    try:
        return _TRANSITIONS[(current, action)]
    except KeyError:
        raise InvalidTransition(f"cannot {action} a notice that is {current}") from None
