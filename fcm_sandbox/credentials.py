"""Throwaway service-account files for dev, and the public half the sandbox verifies with.

firebase-admin refuses to start without a service-account JSON; generating one whose
`token_uri` points at the sandbox lets the stock SDK run its real OAuth flow against it, and
keeping the key lets the sandbox check that flow's signatures rather than trust anything.
"""

import json
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SERVICE_ACCOUNT_NAME = "fcm-sandbox"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    """A service account's key id (the JWT `kid`), its email (the JWT `iss`) and public key."""

    key_id: str
    client_email: str
    public_key: rsa.RSAPublicKey


def write_service_account(
    path: str | os.PathLike[str], *, project_id: str, token_uri: str
) -> dict[str, str]:
    """Write a fresh service-account JSON to `path` (mode 0600, atomically) and return it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    client_email = f"{SERVICE_ACCOUNT_NAME}@{project_id}.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": client_email,
        "client_id": str(secrets.randbelow(10**21)).zfill(21),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": (
            f"https://www.googleapis.com/robot/v1/metadata/x509/{client_email.replace('@', '%40')}"
        ),
        "universe_domain": "googleapis.com",
    }
    _write_json(path, info)
    return info


def ensure_service_account(
    path: str | os.PathLike[str], *, project_id: str, token_uri: str
) -> None:
    """Make `path` a sandbox service account whose `token_uri` is `token_uri`.

    An existing sandbox-generated file keeps its key (clients holding it stay valid) and only
    has its `token_uri` moved, so a sandbox restarted on another port is still found; a file
    the sandbox did not generate is never rewritten, only warned about.
    """
    if not Path(path).exists():
        write_service_account(path, project_id=project_id, token_uri=token_uri)
        return
    info = read_service_account(path)
    if info.get("token_uri") == token_uri:
        return
    if str(info.get("client_email", "")).startswith(f"{SERVICE_ACCOUNT_NAME}@"):
        log.info("%s: token_uri moved from %s to %s", path, info.get("token_uri"), token_uri)
        _write_json(path, {**info, "token_uri": token_uri})
    else:
        log.warning(
            "%s is not a sandbox account and has token_uri %s; clients will fetch tokens there",
            path,
            info.get("token_uri"),
        )


def _write_json(path: str | os.PathLike[str], info: dict[str, Any]) -> None:
    """Replace `path` atomically with a 0600 file, as it holds a private key."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(info, out, indent=2)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def read_service_account(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a service-account JSON file as a dict."""
    with open(path) as src:
        info: dict[str, Any] = json.load(src)
    return info


def load_service_account_key(path: str | os.PathLike[str]) -> ServiceAccountKey:
    """Derive the verification key from a service-account file's RSA private key."""
    info = read_service_account(path)
    private = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: private_key is not an RSA key")
    return ServiceAccountKey(
        key_id=info["private_key_id"],
        client_email=info["client_email"],
        public_key=private.public_key(),
    )
