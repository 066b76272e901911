"""The FastAPI application."""

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alerts.endpoints import (
    accounts,
    audit,
    cap,
    devices,
    keys,
    operator,
    partner,
    sightings,
    webhooks,
)
from alerts.errors import install_error_handler
from alerts.metrics import metrics_registry
from kit.logging import configure_logging

DESCRIPTION = """
Geo-targeted missing-person alerts. Partner agencies submit notices, operators approve them,
and every app install whose last known location lies in the target area gets one pop-up.

hexcast complements official channels such as AMBER Alert and Wireless Emergency Alerts;
it does not replace them.
"""


def create_app() -> FastAPI:
    configure_logging()
    app = FastAPI(title="hexcast", version="0.1.0", description=DESCRIPTION)
    install_error_handler(app)
    app.include_router(partner.router)
    app.include_router(operator.router)
    app.include_router(accounts.router)
    app.include_router(keys.router)
    app.include_router(audit.router)
    app.include_router(devices.router)
    app.include_router(sightings.router)
    app.include_router(webhooks.router)
    app.include_router(cap.router)

    @app.get("/healthz", tags=["service"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    registry = metrics_registry()

    @app.get(
        "/metrics",
        tags=["service"],
        summary="Prometheus metrics: notices, deliveries, dispatch backlog",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Text format"}},
    )
    def metrics() -> Response:
        """Counted in the database at each scrape, so any API process reports the whole
        service, workers included."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


app = create_app()
