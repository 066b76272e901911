"""API keys and device credentials: random, shown once, stored as SHA-256.

The secrets carry 256 bits of entropy, so a fast hash is enough (no password stretching)."""

import hashlib
import hmac
import secrets


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> tuple[str, str]:
    """A fresh secret and its hash; the prefix tells a reader what kind of key leaked."""
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    return secret, hash_secret(secret)


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
