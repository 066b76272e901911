"""Validation of `messages:send` bodies along FCM v1's documented rules.

The point is to reject in dev what FCM would reject in production, so field names follow proto
JSON (snake_case or lowerCamelCase both accepted, unknown names refused, `null` meaning unset)
and enum values are matched case-insensitively because firebase-admin emits `"high"`/`"normal"`
for the proto's `HIGH`/`NORMAL`.
"""

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

MAX_PAYLOAD_BYTES: Final = 4096
"""FCM's message size limit, applied here to the compact UTF-8 JSON of `message`."""

RESERVED_DATA_KEYS: Final = frozenset({"from", "notification", "message_type"})
RESERVED_DATA_PREFIXES: Final = ("google", "gcm")
"""FCM reserves "from", "message_type" and any key starting with "google" or "gcm"."""

ANDROID_PRIORITIES: Final = frozenset({"NORMAL", "HIGH"})

_TOPIC_RE: Final = re.compile(r"[a-zA-Z0-9\-_.~%]+")
_DURATION_RE: Final = re.compile(r"(-?)(\d+)(?:\.(\d{1,9}))?s")


class InvalidMessage(ValueError):
    """A send request FCM would refuse with INVALID_ARGUMENT; `field` is the offending path."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A validated send: the message as received, its device (if any) and dry-run flag.

    `device` is the registration token or installation ID (`fid`, which firebase-admin 7 prefers
    to the deprecated `token`) for device sends, None for topic and condition sends; `by_fid`
    says which of the two it is, as each has its own shape.
    """

    message: dict[str, Any]
    device: str | None
    validate_only: bool
    by_fid: bool = False


@dataclass(frozen=True, slots=True)
class _Names:
    """A proto message's field names: both JSON spellings of each, mapped to snake_case."""

    aliases: dict[str, str]
    snake: frozenset[str]


def _aliases(*names: str) -> _Names:
    """Map both proto JSON spellings (snake_case and lowerCamelCase) of each field to snake."""
    out: dict[str, str] = {}
    for name in names:
        head, *rest = name.split("_")
        out[name] = name
        out[head + "".join(part.title() for part in rest)] = name
    return _Names(aliases=out, snake=frozenset(names))


_REQUEST_FIELDS: Final = _aliases("message", "validate_only")
_MESSAGE_FIELDS: Final = _aliases(
    "name",
    "data",
    "notification",
    "android",
    "webpush",
    "apns",
    "fcm_options",
    "token",
    "fid",
    "topic",
    "condition",
)
_NOTIFICATION_FIELDS: Final = _aliases("title", "body", "image")
_ANDROID_FIELDS: Final = _aliases(
    "collapse_key",
    "priority",
    "ttl",
    "restricted_package_name",
    "data",
    "notification",
    "fcm_options",
    "direct_boot_ok",
    "restricted_satellite_ok",
    "bandwidth_constrained_ok",
)
_TARGETS: Final = ("token", "fid", "topic", "condition")
_DEVICE_TARGETS: Final = frozenset({"token", "fid"})


def _fields(obj: object, names: _Names, where: str) -> dict[str, Any]:
    """Return the JSON object `obj` keyed by snake_case names, nulls dropped, unknowns refused."""
    if not isinstance(obj, dict):
        raise InvalidMessage(where, f"Invalid value at '{where}', expected an object.")
    if obj.keys() <= names.snake and None not in obj.values():
        return obj  # already so: what firebase-admin sends
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = names.aliases.get(key)
        if name is None:
            raise InvalidMessage(
                where,
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                "Cannot find field.",
            )
        if name in out:
            raise InvalidMessage(f"{where}.{name}", f"Field '{name}' is set more than once.")
        if value is not None:
            out[name] = value
    return out


def _require(value: object, kind: type, where: str, kind_name: str) -> None:
    """Refuse a JSON value of the wrong type the way FCM's proto parser words it."""
    if type(value) is kind:
        return
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InvalidMessage(
            where, f"Invalid value at '{where}' ({kind_name}), {json.dumps(value)}"
        )


def _check_strings(fields: Mapping[str, Any], names: Iterable[str], where: str) -> None:
    for name in names:
        if name in fields:
            _require(fields[name], str, f"{where}.{name}", "TYPE_STRING")


def _check_objects(fields: Mapping[str, Any], names: Iterable[str], where: str) -> None:
    for name in names:
        if name in fields:
            _require(fields[name], dict, f"{where}.{name}", "TYPE_MESSAGE")


def _check_data(data: object, where: str) -> None:
    """A data payload must map strings to strings and avoid FCM's reserved keys."""
    if not isinstance(data, dict):
        raise InvalidMessage(where, f"Invalid value at '{where}', expected a map.")
    if (
        all(type(value) is str for value in data.values())
        and not data.keys() & RESERVED_DATA_KEYS
        and not any(key.startswith(RESERVED_DATA_PREFIXES) for key in data)
    ):
        return
    for index, (key, value) in enumerate(data.items()):
        _require(value, str, f"{where}[{index}].value", "TYPE_STRING")
        if key in RESERVED_DATA_KEYS or key.startswith(RESERVED_DATA_PREFIXES):
            raise InvalidMessage(f"{where}[{index}].key", f"Invalid data payload key: {key}")


def parse_duration(value: object, where: str) -> float:
    """Parse a proto JSON Duration ("3600s", "3.5s") into seconds, refusing negative ones."""
    match = _DURATION_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidMessage(
            where,
            f"Invalid value at '{where}' (type.googleapis.com/google.protobuf.Duration), "
            f"{json.dumps(value)}",
        )
    sign, seconds, fraction = match.groups()
    if sign:
        raise InvalidMessage(where, f"Invalid value at '{where}', duration must not be negative.")
    return int(seconds) + (int(fraction.ljust(9, "0")) / 1e9 if fraction else 0.0)


def _check_target(fields: Mapping[str, Any]) -> str | None:
    """Exactly one of token/fid/topic/condition; return the device address if it is one."""
    targets = [name for name in _TARGETS if name in fields]
    if not targets:
        raise InvalidMessage("message", "Recipient of the message is not set.")
    if len(targets) > 1:
        raise InvalidMessage(
            f"message.{targets[1]}",
            f"Invalid value at 'message' (oneof), oneof field 'target' is already set. "
            f"Cannot set '{targets[1]}'",
        )
    target = targets[0]
    value = fields[target]
    _require(value, str, f"message.{target}", "TYPE_STRING")
    if not value:
        raise InvalidMessage(f"message.{target}", f"The {target} must not be empty.")
    if target == "topic" and not _TOPIC_RE.fullmatch(value):
        raise InvalidMessage("message.topic", f"Invalid topic name: {value}")
    return value if target in _DEVICE_TARGETS else None


def _check_android(android: object) -> None:
    where = "message.android"
    fields = _fields(android, _ANDROID_FIELDS, where)
    _check_strings(fields, ("collapse_key", "restricted_package_name", "priority"), where)
    _check_objects(fields, ("notification", "fcm_options"), where)
    for name in ("direct_boot_ok", "restricted_satellite_ok", "bandwidth_constrained_ok"):
        if name in fields:
            _require(fields[name], bool, f"{where}.{name}", "TYPE_BOOL")
    if "priority" in fields and fields["priority"].upper() not in ANDROID_PRIORITIES:
        raise InvalidMessage(
            f"{where}.priority",
            f"Invalid value at '{where}.priority' "
            f"(type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), "
            f"{json.dumps(fields['priority'])}",
        )
    if "ttl" in fields:
        parse_duration(fields["ttl"], f"{where}.ttl")
    if "data" in fields:
        _check_data(fields["data"], f"{where}.data")


def payload_size(message: Mapping[str, Any]) -> int:
    """Bytes of the message's compact UTF-8 JSON, what the 4096-byte limit is checked against.

    Lone surrogates (legal in JSON escapes, not in proto strings) are refused here.
    """
    try:
        return len(orjson.dumps(message))
    except orjson.JSONEncodeError as exc:
        raise InvalidMessage("message", f"Invalid JSON payload received. {exc}") from exc


def parse_send_request(body: object) -> SendRequest:
    """Validate a decoded `messages:send` body, raising InvalidMessage as FCM would refuse it."""
    request = _fields(body, _REQUEST_FIELDS, "request")
    validate_only = request.get("validate_only", False)
    _require(validate_only, bool, "validate_only", "TYPE_BOOL")
    if "message" not in request:
        raise InvalidMessage("message", "Invalid value at 'message': message is required.")
    message = request["message"]
    fields = _fields(message, _MESSAGE_FIELDS, "message")
    device = _check_target(fields)
    _check_strings(fields, ("name",), "message")
    _check_objects(fields, ("webpush", "apns", "fcm_options"), "message")
    if "data" in fields:
        _check_data(fields["data"], "message.data")
    if "notification" in fields:
        notification = _fields(fields["notification"], _NOTIFICATION_FIELDS, "message.notification")
        _check_strings(notification, ("title", "body", "image"), "message.notification")
    if "android" in fields:
        _check_android(fields["android"])
    size = payload_size(message)
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidMessage(
            "message", f"Message is too big: {size} bytes, the limit is {MAX_PAYLOAD_BYTES}."
        )
    return SendRequest(
        message=message, device=device, validate_only=validate_only, by_fid="fid" in fields
    )
