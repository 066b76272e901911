"""Notice statuses as every output reads them, the transitions between them, and who may
approve, as pure rules. An output that decides by status uses one of the sets below, never a
list of its own: a status added or moved then changes every output at once."""

import enum
import uuid
from typing import Final

from alerts.accounts.service import BOOTSTRAP_OPERATOR_ID
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
    cap_status: CapStatus,
    *,
    approver: uuid.UUID | None,
    submitted_by: uuid.UUID | None = None,
    key_issuer: uuid.UUID | None = None,
    what: str = "an Actual notice",
) -> None:
    """An Actual notice, or a change to one, needs a second person: an operator other than
    the one who submitted it and other than the one who issued the agency key it came with
    (who holds that key too). The bootstrap credential is nobody's second person: whoever
    holds it may also hold an account, so it approves nothing Actual, and nothing it
    submitted (or submitted with a key it issued) can be shown to have a second person.
    Test and Exercise notices reach only test devices, never reach the public outputs and
    can never become Actual, so their submitter may approve them: a drill can be run by
    whoever is on shift."""
    if cap_status is not CapStatus.ACTUAL:
        return
    if approver == BOOTSTRAP_OPERATOR_ID:
        raise TwoPersonRule(
            f"the bootstrap credential is nobody's second person: approve {what} with an "
            "operator account"
        )
    if BOOTSTRAP_OPERATOR_ID in (submitted_by, key_issuer):
        raise TwoPersonRule(
            f"{what} submitted with the bootstrap credential, or with an agency key it issued, "
            "has no second person anyone can vouch for: submit it with a key an admin account "
            "issued"
        )
    if submitted_by is not None and submitted_by == approver:
        raise TwoPersonRule(
            f"{what} must be approved by an operator other than the one who submitted it"
        )
    if key_issuer is not None and key_issuer == approver:
        raise TwoPersonRule(
            f"{what} must be approved by an operator other than the one who issued the agency "
            "key it was submitted with"
        )


PENDING: Final = frozenset({NoticeStatus.PENDING})
"""Waiting for an operator's decision; nothing is sent or published."""
BROADCASTING: Final = frozenset({NoticeStatus.ACTIVE})
"""Approved and running: pushes go out, and the public outputs (CAP, Atom) list it."""
ENDED: Final = frozenset({NoticeStatus.FOUND, NoticeStatus.CANCELLED, NoticeStatus.EXPIRED})
"""Approved once and over: CAP says urgency Past, and nothing more is sent but a found
notice's "Found, thank you"."""
APPROVED: Final = BROADCASTING | ENDED
"""Went out: its CAP status is its own (Actual, Exercise, Test), not Draft."""
PUBLIC: Final = BROADCASTING
"""Listed in the public Atom feed and answered by the public CAP route, if it is real (see
PUBLIC_CAP_STATUSES)."""
PUBLIC_CAP_STATUSES: Final = frozenset({CapStatus.ACTUAL})
"""Only real alerts reach the public outputs: a Test or Exercise notice there would read as
a real alert to every reader that ignores CAP's <status>, and a drill is approved by one
person."""
CHANGEABLE: Final = PENDING | BROADCASTING
"""May still be updated, cancelled or given an expansion schedule."""
IDENTITY_WITHHELD: Final = frozenset({NoticeStatus.FOUND})
"""The person's name, age, sex, description and photo leave every output: they were
published to find someone, and are not needed once the person is found."""


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
