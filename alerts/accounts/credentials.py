"""Secrets and passwords.

API keys, device keys and session tokens are random, shown once and stored as SHA-256: they
carry 256 bits of entropy, so a fast hash is enough. Passwords are chosen by people and get
scrypt, a memory-hard KDF from the standard library: N=2^15, r=8, p=1 takes 32 MiB and about
0.1 s per guess here (Django's scrypt hasher uses 2^14; HEXCAST_PASSWORD_HASH_LOG2_N, which
production keeps at 15 or more). The parameters are stored with each hash, so raising them
later leaves existing hashes verifiable."""

import base64
import hashlib
import hmac
import secrets
from functools import cache

from kit.config import get_settings

SCRYPT_R = 8

SCRYPT_P = 1

_SALT_BYTES = 16

_KEY_BYTES = 32


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> tuple[str, str]:
    """A fresh secret and its hash; the prefix tells a reader what kind of key leaked."""
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    return secret, hash_secret(secret)


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=2**log2_n,
        r=r,
        p=p,
        maxmem=2 * 128 * r * 2**log2_n,
        dklen=_KEY_BYTES,
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str) -> str:
    """`scrypt$log2(N)$r$p$salt$key`, salt and key in base64."""
    salt = secrets.token_bytes(_SALT_BYTES)
    log2_n = get_settings().password_hash_log2_n
    key = _scrypt(password, salt, log2_n, SCRYPT_R, SCRYPT_P)
    return f"scrypt${log2_n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


@cache
def _unknown_account_hash() -> str:
    """Verified against when there is no hash, so that the answer takes as long either way."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored`; no stored hash (unknown account, or one that
    cannot log in) costs the same time and never matches."""
    scheme, log2_n, r, p, salt, key = (stored or _unknown_account_hash()).split("$")
    if scheme != "scrypt":
        raise ValueError(f"unknown password hash scheme {scheme!r}")
    derived = _scrypt(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    return stored is not None and hmac.compare_digest(derived, base64.b64decode(key))
