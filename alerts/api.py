"""The FastAPI application."""

from fastapi import FastAPI

from alerts.endpoints import accounts, audit, devices, keys, operator, partner
from alerts.errors import install_error_handler
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

    @app.get("/healthz", tags=["service"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


app = create_app()
