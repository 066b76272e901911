"""The device registry's answers, in process: FCM's token rules and what permissive relaxes."""

import pytest

from fcm_sandbox.devices import INVALID_FID_MESSAGE, INVALID_TOKEN_MESSAGE, DeviceRegistry

UNREGISTERED = ("UNREGISTERED", "Requested entity was not found.")
WELL_FORMED = "cAAAAAAAAAAAAAAAAAAAAA:APA91b" + "x" * 134


def _code(registry: DeviceRegistry, address: str, *, fid: bool) -> str | None:
    refusal = registry.check(address, fid=fid)
    return None if refusal is None else refusal[0]


@pytest.mark.parametrize("permissive", [False, True])
def test_issued_devices_follow_fcms_rules_in_either_mode(permissive: bool) -> None:
    registry = DeviceRegistry(permissive=permissive)
    phone, gone = registry.issue(2)

    assert registry.check(phone.token, fid=False) is None
    assert registry.check(phone.fid, fid=True) is None
    registry.uninstall(gone.fid)
    assert registry.check(gone.token, fid=False) == UNREGISTERED
    assert registry.check(gone.fid, fid=True) == UNREGISTERED
    rotated = registry.rotate(phone.token)
    assert rotated is not None
    before, after = rotated
    assert registry.check(before.token, fid=False) == UNREGISTERED
    assert registry.check(after.token, fid=False) is None
    assert registry.check(after.fid, fid=True) is None
    assert registry.rotate(gone.token) == (registry.find(gone.fid), registry.find(gone.fid))
    assert registry.addresses(after.fid) == {after.fid, before.token, after.token}
    assert registry.stats() == {"devices": 2, "installed": 1}


def test_strict_refuses_the_unknown_by_shape() -> None:
    registry = DeviceRegistry(permissive=False)

    assert registry.check("tok-1", fid=False) == ("INVALID_ARGUMENT", INVALID_TOKEN_MESSAGE)
    assert _code(registry, WELL_FORMED + "!", fid=False) == "INVALID_ARGUMENT"
    assert registry.check("fid-1", fid=True) == ("INVALID_ARGUMENT", INVALID_FID_MESSAGE)
    assert registry.check(WELL_FORMED, fid=False) == UNREGISTERED
    assert registry.check("c" * 22, fid=True) == UNREGISTERED
    # A token is not a FID and a FID is not a token.
    [phone] = registry.issue(1)
    assert _code(registry, phone.fid, fid=False) == "INVALID_ARGUMENT"
    assert _code(registry, phone.token, fid=True) == "INVALID_ARGUMENT"


def test_permissive_accepts_the_unknown_and_forget_makes_issued_ones_unknown() -> None:
    registry = DeviceRegistry(permissive=True)
    [phone] = registry.issue(1)
    registry.uninstall(phone.token)

    assert registry.check("tok-1", fid=False) is None
    assert registry.check(WELL_FORMED, fid=False) is None
    assert registry.check(phone.token, fid=False) == UNREGISTERED
    assert registry.forget() == 1
    assert registry.check(phone.token, fid=False) is None
