"""The FastAPI application."""

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alerts.accounts import endpoints as accounts
from alerts.app import endpoints as client_app
from alerts.audit import endpoints as audit
from alerts.cap import endpoints as cap
from alerts.changes import endpoints as changes
from alerts.console import endpoints as console
from alerts.devices import endpoints as devices
from alerts.edge import install_edge
from alerts.errors import NotFound, Unauthenticated, install_error_handler
from alerts.expansion import endpoints as expansion
from alerts.metrics import metrics_registry
from alerts.notices import endpoints as notices
from alerts.reach import endpoints as reach
from alerts.webhooks import endpoints as webhooks
from kit.config import get_settings
from kit.heap import startup_heap_frozen
from kit.logging import configure_logging

DESCRIPTION = """
Geo-targeted missing-person alerts. Partner agencies submit notices, operators approve them,
and every app install whose last known location lies in the target area gets one pop-up.

hexcast complements official channels such as AMBER Alert and Wireless Emergency Alerts;
it does not replace them.
"""


@asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[None]:
    with startup_heap_frozen():
        yield


def create_app() -> FastAPI:
    settings = get_settings()  # a misconfigured production refuses to start, here
    configure_logging()
    app = FastAPI(title="hexcast", version="0.1.0", description=DESCRIPTION, lifespan=_serving)
    install_error_handler(app)
    install_edge(app)
    app.add_middleware(devices.LocationShortcut)
    for router in (
        notices.agency_router,
        accounts.agency_router,
        notices.operator_router,
        notices.public_router,
        expansion.router,
        changes.operator_router,
        changes.router,
        reach.router,
        accounts.router,
        accounts.key_router,
        audit.router,
        devices.router,
        devices.sighting_router,
        webhooks.router,
        cap.router,
        client_app.router,
    ):
        app.include_router(router)
    console.install(app)

    @app.get("/healthz", tags=["service"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    registry = metrics_registry()

    @app.get(
        "/metrics",
        tags=["service"],
        summary="Prometheus metrics: notices, deliveries, dispatch backlog",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Text format"}},
    )
    def metrics(authorization: str = Header("")) -> Response:
        """Counted in the database at each scrape, so any API process reports the whole
        service, workers included. With HEXCAST_METRICS_TOKEN set, only for that bearer
        token; without it, absent in production."""
        if settings.metrics_token:
            expected = f"Bearer {settings.metrics_token}".encode()
            if not secrets.compare_digest(authorization.encode(), expected):
                raise Unauthenticated("/metrics needs the bearer token HEXCAST_METRICS_TOKEN")
        elif settings.environment == "production":
            raise NotFound("no /metrics without HEXCAST_METRICS_TOKEN in production")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


app = create_app()
