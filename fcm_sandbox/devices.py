"""Virtual devices: registration tokens the sandbox issued, and FCM's rules for any other token.

FCM refuses a token that is not in its shape with INVALID_ARGUMENT and answers UNREGISTERED
(404) for a well-formed one no app instance holds, which is how a server learns to drop a dead
token. Both answers need the sandbox to know which tokens exist, so it issues them: a device
is a Firebase installation ID (FID) and the registration token minted for it, shaped like
FCM's (`<22-char FID>:APA91b<134 base64url chars>`, 163 characters). Every check is one
precompiled regex match and one dict read, as sends are the benchmarks' hot path.
"""

import base64
import re
import secrets
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}:APA91b[A-Za-z0-9_-]{100,300}")
"""FCM's registration token shape: an app instance ID, a colon, then `APA91b` and base64url."""
FID_RE: Final = re.compile(r"[cdef][A-Za-z0-9_-]{21}")
"""A Firebase installation ID: 22 base64url characters whose first 4 bits are 0111."""

INVALID_TOKEN_MESSAGE: Final = "The registration token is not a valid FCM registration token"
INVALID_FID_MESSAGE: Final = "The installation ID is not a valid Firebase installation ID"
MAX_DEVICES_PER_REQUEST: Final = 10_000


class TokenState(StrEnum):
    """What FCM would make of a registration token or FID."""

    INSTALLED = "installed"  # issued and held by an installed app: delivered
    UNINSTALLED = "uninstalled"  # the app was removed: UNREGISTERED
    RETIRED = "retired"  # replaced by a rotation: UNREGISTERED


@dataclass(frozen=True, slots=True)
class Device:
    """One virtual app instance; `token` is its current registration token."""

    fid: str
    token: str
    installed: bool

    def to_json(self) -> dict[str, Any]:
        state = TokenState.INSTALLED if self.installed else TokenState.UNINSTALLED
        return {"fid": self.fid, "token": self.token, "state": state.value}


def new_fid() -> str:
    """A fresh FID: 16 random bytes with the FID prefix 0111 in the high bits, base64url."""
    raw = bytearray(secrets.token_bytes(17))
    raw[0] = 0x70 | (raw[0] & 0x0F)
    return base64.urlsafe_b64encode(bytes(raw)).decode()[:22]


def new_token(fid: str) -> str:
    return f"{fid}:APA91b{secrets.token_urlsafe(101)[:134]}"


class DeviceRegistry:
    """The devices a sandbox issued. Writers take the lock; `check` is a lock-free dict read.

    `permissive` makes a token the sandbox never issued deliverable whatever its shape (for
    load tests and suites with made-up tokens); a token it did issue keeps its state, so an
    uninstalled or rotated-away token still answers UNREGISTERED.
    """

    def __init__(self, *, permissive: bool) -> None:
        self.permissive = permissive
        self._lock = threading.Lock()
        self._devices: dict[str, Device] = {}  # by FID
        self._tokens: dict[str, str] = {}  # every token ever issued -> its device's FID

    def issue(self, count: int) -> list[Device]:
        """Create `count` installed devices, each with a new FID and registration token."""
        devices = []
        for _ in range(count):
            fid = new_fid()
            devices.append(Device(fid=fid, token=new_token(fid), installed=True))
        with self._lock:
            for device in devices:
                self._devices[device.fid] = device
                self._tokens[device.token] = device.fid
        return devices

    def find(self, address: str) -> Device | None:
        """The device a token (current or retired) or FID belongs to."""
        fid = self._tokens.get(address, address)
        return self._devices.get(fid)

    def addresses(self, address: str) -> set[str]:
        """Every address of the device `address` belongs to: its FID and all its tokens."""
        device = self.find(address)
        if device is None:
            return set()
        with self._lock:
            tokens = {t for t, fid in self._tokens.items() if fid == device.fid}
        return {device.fid, *tokens}

    def state(self, address: str) -> TokenState | None:
        """What an issued token or FID is now; None if the sandbox never issued it."""
        device = self.find(address)
        if device is None:
            return None
        if address != device.fid and address != device.token:
            return TokenState.RETIRED
        return TokenState.INSTALLED if device.installed else TokenState.UNINSTALLED

    def uninstall(self, address: str) -> Device | None:
        """Remove the app: the device's token and FID answer UNREGISTERED from now on."""
        with self._lock:
            device = self.find(address)
            if device is None:
                return None
            device = Device(fid=device.fid, token=device.token, installed=False)
            self._devices[device.fid] = device
        return device

    def rotate(self, address: str) -> tuple[Device, Device] | None:
        """Give an installed device a new token, retiring the old one (UNREGISTERED); returns
        the device before and after, the same if it is uninstalled (it has no token)."""
        with self._lock:
            before = self.find(address)
            if before is None or not before.installed:
                return None if before is None else (before, before)
            after = Device(fid=before.fid, token=new_token(before.fid), installed=True)
            self._devices[after.fid] = after
            self._tokens[after.token] = after.fid
        return before, after

    def forget(self) -> int:
        """Drop every device; their tokens become unknown (UNREGISTERED when strict)."""
        with self._lock:
            count = len(self._devices)
            self._devices.clear()
            self._tokens.clear()
        return count

    def check(self, address: str, *, fid: bool) -> tuple[str, str] | None:
        """FCM's answer to a send to `address`: None to deliver, else (errorCode, message)."""
        key = address if fid else self._tokens.get(address)
        device = None if key is None else self._devices.get(key)
        if device is not None:
            if device.installed and (fid or address == device.token):
                return None
            return ("UNREGISTERED", "Requested entity was not found.")
        if self.permissive:
            return None
        if not (FID_RE if fid else TOKEN_RE).fullmatch(address):
            return ("INVALID_ARGUMENT", INVALID_FID_MESSAGE if fid else INVALID_TOKEN_MESSAGE)
        return ("UNREGISTERED", "Requested entity was not found.")

    def stats(self) -> dict[str, int]:
        with self._lock:
            devices = list(self._devices.values())
        installed = sum(d.installed for d in devices)
        return {"devices": len(devices), "installed": installed}
