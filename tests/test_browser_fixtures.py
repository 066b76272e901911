"""The browser tests' own ground: Chromium reaches the live API server and reads its pages."""

import httpx
from playwright.sync_api import Page


def test_chromium_reads_a_page_from_the_live_server(page: Page, live_api: httpx.Client) -> None:
    response = page.goto(f"{live_api.base_url}/openapi.json")

    assert response is not None and response.status == 200
    assert '"openapi"' in page.content()
