"""Demo data and a demo notice, through the public API of a running hexcast.

Registers demo devices around central London, with registration tokens the FCM sandbox issues
(as phones get theirs from FCM), and removes the app from a few of those inside the alert's
radius; with the bootstrap credential, creates a demo agency and a demo reviewer account; the
agency submits a notice, the reviewer logs in and approves it; a second notice is left pending
for the demo console operator (an admin account of its own) to review in the browser at
/console; waits for the broadcast and
prints how many devices the sandbox reached and how many uninstalled phones FCM answered
UNREGISTERED for, which hexcast deactivates so that later notices skip them."""

import argparse
import os
import random
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx

from geo.sphere import destination

CENTRE = (51.5007, -0.1246)  # Westminster Bridge
RADIUS_KM = 3.0
CONSOLE_EMAIL = "demo@hexcast.example"
LOCALES = ["en-GB", "en-GB", "en-GB", "zh-CN", "es-ES", "fr-FR"]


def _check(response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        sys.exit(
            f"{response.request.method} {response.request.url}: {response.status_code} "
            f"{response.text}"
        )
    return response


def _issue_tokens(sandbox: httpx.Client, count: int) -> list[str]:
    """Registration tokens of `count` new virtual devices in the FCM sandbox."""
    tokens: list[str] = []
    while len(tokens) < count:
        batch = min(count - len(tokens), 10_000)
        devices = _check(sandbox.post("/sandbox/devices", json={"count": batch}), 201)
        tokens.extend(device["token"] for device in devices.json()["devices"])
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api", default=os.environ.get("HEXCAST_API_URL", "http://127.0.0.1:8000"))
    parser.add_argument(
        "--sandbox", default=os.environ.get("HEXCAST_FCM_ENDPOINT", "http://127.0.0.1:8765")
    )
    parser.add_argument(
        "--operator-token", default=os.environ.get("HEXCAST_OPERATOR_TOKEN", "dev-operator-token")
    )
    parser.add_argument(
        "--console-password",
        default=os.environ.get("HEXCAST_DEMO_CONSOLE_PASSWORD", "demo console passphrase"),
        help=f"password of the console's demo operator, {CONSOLE_EMAIL}",
    )
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument(
        "--uninstalled",
        type=int,
        default=5,
        help="phones inside the radius whose app is removed before the broadcast",
    )
    args = parser.parse_args()

    operator = {"Authorization": f"Bearer {args.operator_token}"}
    rng = random.Random(7)
    now = datetime.now(UTC)
    with (
        httpx.Client(base_url=args.api, timeout=30) as api,
        httpx.Client(base_url=args.sandbox, timeout=30) as sandbox,
    ):
        tokens = _issue_tokens(sandbox, args.devices)
        inside: list[str] = []
        for token in tokens:
            registered = _check(
                api.post(
                    "/v1/devices",
                    json={
                        "fcm_token": token,
                        "platform": rng.choice(["android", "ios"]),
                        "locale": rng.choice(LOCALES),
                    },
                ),
                200,
                201,
            ).json()
            distance = rng.uniform(0, 3 * RADIUS_KM * 1000)
            lat, lon = destination(*CENTRE, distance, rng.uniform(0, 360))
            _check(
                api.put(
                    "/v1/devices/me/location",
                    headers={"X-Device-Key": registered["device_key"]},
                    json={"lat": lat, "lon": lon, "accuracy_m": 15, "at": now.isoformat()},
                ),
                204,
            )
            if distance <= RADIUS_KM * 1000:
                inside.append(token)
        print(f"demo: {args.devices} devices registered, {len(inside)} within {RADIUS_KM} km")
        gone = inside[: args.uninstalled]
        for token in gone:
            _check(sandbox.post(f"/sandbox/devices/{token}/uninstall"), 200)
        if gone:
            print(f"demo: {len(gone)} of them have since uninstalled the app")

        # The agency's key comes from an admin account of its own: a key the bootstrap
        # credential issued submits notices nobody may approve (two people for every alert).
        issuer_email = f"demo-keys-{now:%Y%m%d-%H%M%S}@hexcast.example"
        issuer_password = secrets.token_urlsafe(16)
        _check(
            api.post(
                "/v1/operator/accounts",
                headers=operator,
                json={
                    "email": issuer_email,
                    "display_name": "Demo Key Officer",
                    "role": "admin",
                    "password": issuer_password,
                },
            ),
            201,
        )
        issuer_login = _check(
            api.post(
                "/v1/operator/login", json={"email": issuer_email, "password": issuer_password}
            ),
            200,
        ).json()
        agency = _check(
            api.post(
                "/v1/operator/agencies",
                headers={"Authorization": f"Bearer {issuer_login['token']}"},
                json={"name": f"Demo Police {now:%Y%m%d-%H%M%S}"},
            ),
            201,
        ).json()
        partner = {"X-API-Key": agency["api_key"]}
        reviewer_email = f"demo-reviewer-{now:%Y%m%d-%H%M%S}@hexcast.example"
        password = secrets.token_urlsafe(16)
        _check(
            api.post(
                "/v1/operator/accounts",
                headers=operator,
                json={
                    "email": reviewer_email,
                    "display_name": "Demo Reviewer",
                    "role": "reviewer",
                    "password": password,
                },
            ),
            201,
        )
        login = _check(
            api.post("/v1/operator/login", json={"email": reviewer_email, "password": password}),
            200,
        ).json()
        reviewer = {"Authorization": f"Bearer {login['token']}"}
        notice = _check(
            api.post(
                "/v1/notices",
                headers=partner,
                json={
                    "person": {
                        "name": "Lily Chen",
                        "age": 7,
                        "sex": "female",
                        "description": "Red coat, yellow backpack, 120 cm, black ponytail.",
                    },
                    "last_seen": {
                        "lat": CENTRE[0],
                        "lon": CENTRE[1],
                        "place": "Westminster Bridge",
                        "at": (now - timedelta(minutes=40)).isoformat(),
                    },
                    "radius_km": RADIUS_KM,
                    "contact": "Demo Police, 101",
                    "language": "en-GB",
                },
            ),
            201,
        ).json()
        print(f"demo: notice {notice['id']} submitted by {agency['name']} ({notice['status']})")
        _check(api.post(f"/v1/operator/notices/{notice['id']}/approve", headers=reviewer), 200)
        print(f"demo: notice approved by {reviewer_email}; broadcasting")

        # Settled: something was targeted, nothing is pending, and the count stopped growing.
        deadline = time.monotonic() + 60
        stats: dict = {}
        previous = -1
        while time.monotonic() < deadline:
            stats = _check(
                api.get(f"/v1/operator/notices/{notice['id']}/deliveries", headers=reviewer), 200
            ).json()
            if 0 < stats["targeted"] == previous and stats["by_status"]["pending"] == 0:
                break
            previous = stats["targeted"]
            time.sleep(1)
        received = _check(sandbox.get("/sandbox/messages"), 200).json()
        _console_demo(api, operator, partner, args.console_password, now)
    reached = {
        m["message"].get("token")
        for m in received
        if m["message"].get("data", {}).get("notice_id") == notice["id"]
    }
    print(
        f"demo: the FCM sandbox received the notice on {len(reached)} demo devices "
        f"(targeted {stats.get('targeted')}, sent {stats.get('by_status', {}).get('sent')})"
    )
    unregistered = stats.get("failed_by_reason", {}).get("UNREGISTERED", 0)
    if gone or unregistered:
        print(
            f"demo: FCM answered UNREGISTERED for {unregistered} phones without the app; "
            "hexcast recorded those deliveries as failed and deactivated the devices, so the "
            "next notice skips them"
        )
    if not reached:
        sys.exit("demo: no device was reached")
    # More is possible: devices from an earlier run hold tokens this sandbox never issued.
    if unregistered < len(gone):
        sys.exit(f"demo: expected {len(gone)} UNREGISTERED deliveries, got {unregistered}")


def _console_demo(
    api: httpx.Client,
    operator: dict[str, str],
    partner: dict[str, str],
    password: str,
    now: datetime,
) -> None:
    """The console's demo operator (created once) and a pending notice for it to review."""
    _check(
        api.post(
            "/v1/operator/accounts",
            headers=operator,
            json={
                "email": CONSOLE_EMAIL,
                "display_name": "Demo Operator",
                "role": "admin",
                "password": password,
            },
        ),
        201,
        409,
    )
    notice = _check(
        api.post(
            "/v1/notices",
            headers=partner,
            json={
                "person": {
                    "name": "Tom Okafor",
                    "age": 81,
                    "sex": "male",
                    "description": "Grey raincoat, walks with a stick; may seem confused.",
                },
                "last_seen": {
                    "lat": 51.5033,
                    "lon": -0.1195,
                    "place": "the London Eye",
                    "at": (now - timedelta(minutes=25)).isoformat(),
                },
                "radius_km": 2.0,
                "contact": "Demo Police, 101",
                "language": "en-GB",
            },
        ),
        201,
    ).json()
    print(f"demo: notice {notice['id']} (Tom Okafor) waits for review in the console")


if __name__ == "__main__":
    main()
