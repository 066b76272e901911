"""An API process keeps what it built at start-up out of the collector's full walks."""

import gc

from fastapi.testclient import TestClient

from alerts.api import create_app


def test_a_serving_app_has_its_start_up_heap_frozen_and_releases_it_when_stopped() -> None:
    with TestClient(create_app()) as client:
        assert client.get("/healthz").status_code == 200
        # The framework, the routes and the schemas: tens of thousands of objects.
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
