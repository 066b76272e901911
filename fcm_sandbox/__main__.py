"""`python -m fcm_sandbox`: write dev credentials if needed, then serve the sandbox."""

import argparse
import ipaddress
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from fcm_sandbox.app import DEFAULT_MAX_MESSAGES, create_sandbox
from fcm_sandbox.credentials import ensure_service_account
from fcm_sandbox.server import serve

log = logging.getLogger("fcm_sandbox")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fcm_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--project", default="hexcast-dev", help="the only project accepted")
    parser.add_argument(
        "--credentials-out",
        type=Path,
        help="service-account JSON to use, generated (token_uri pointing here) if absent",
    )
    parser.add_argument(
        "--max-messages",
        type=int,
        default=DEFAULT_MAX_MESSAGES,
        help="recorded messages kept in memory; older ones are dropped (counters are not)",
    )
    parser.add_argument(
        "--public-url",
        help="base URL clients reach the sandbox at (default http://HOST:PORT); "
        "the credentials' token_uri points there",
    )
    parser.add_argument(
        "--accept-any-token",
        action="store_true",
        help="deliver to any token or FID the sandbox did not issue, whatever its shape "
        "(for load tests and made-up tokens); issued tokens that were uninstalled or rotated "
        "away still answer UNREGISTERED. Default: FCM's rules (INVALID_ARGUMENT for a "
        "malformed token, UNREGISTERED for an unknown one)",
    )
    parser.add_argument(
        "--inspect-token",
        default=os.environ.get("FCM_SANDBOX_INSPECT_TOKEN") or None,
        help="bearer token the /sandbox/ routes (messages, devices, faults) require "
        "(default $FCM_SANDBOX_INSPECT_TOKEN); needed unless HOST is a loopback address",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.inspect_token is None and not _loopback(args.host):
        parser.error(
            f"--host {args.host} is reachable from other machines: set --inspect-token, or "
            "every device token and message would be readable and faults open to anyone"
        )
    return args


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = (args.public_url or f"http://{host}:{args.port}").rstrip("/")
    if args.credentials_out is not None:
        ensure_service_account(
            args.credentials_out, project_id=args.project, token_uri=f"{base}/token"
        )
    sandbox = create_sandbox(
        project_id=args.project,
        credentials_file=args.credentials_out,
        max_messages=args.max_messages,
        accept_any_token=args.accept_any_token,
        inspect_token=args.inspect_token,
    )
    log.info(
        "FCM sandbox for %s: send %s/v1/projects/%s/messages:send, token %s/token, "
        "inspect %s/sandbox/, credentials %s, tokens: %s",
        args.project,
        base,
        args.project,
        base,
        base,
        args.credentials_out or "(none: no token is granted)",
        "any accepted" if args.accept_any_token else "issued only (POST /sandbox/devices)",
    )
    serve(sandbox, host=args.host, port=args.port, access_log=args.access_log)


if __name__ == "__main__":
    main()
