"""The console's pure rules: the CSRF token bound to a login, the cover cells the map draws
(the same cells as the ranges a broadcast selects by), and the pop-up previews."""

import uuid
from datetime import UTC, datetime, timedelta

import h3.api.basic_int as h3int

from alerts.console.service import csrf_token, csrf_valid
from geo.regions import (
    Circle,
    CoverCells,
    cover_region,
    merge_ranges,
    region_cells,
    region_from_json,
    union_ranges,
)
from geo.regions import _id_range as id_range
from kit.models import CapStatus, Notice
from notifier.payload import LANGUAGES
from notifier.preview import popup_previews


def test_a_csrf_token_fits_only_its_own_login() -> None:
    mine, other = "hxo_login-one", "hxo_login-two"

    assert csrf_valid(mine, csrf_token(mine))
    assert not csrf_valid(mine, csrf_token(other))
    assert not csrf_valid(mine, None)
    assert not csrf_valid(mine, "")


def _as_ranges(cells: CoverCells) -> list:
    return union_ranges(
        [
            merge_ranges(
                [id_range(c, inside=True) for c in cells.inside]
                + [id_range(c, inside=False) for c in cells.boundary]
            )
        ]
    )


def test_the_cells_drawn_are_the_cover_the_broadcast_selects_by() -> None:
    circle = (Circle(51.5007, -0.1246, 8_000.0),)
    areas = region_from_json(
        [
            {"type": "circle", "lat": 48.8566, "lon": 2.3522, "radius_km": 3},
            {
                "type": "polygon",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[2.0, 48.0], [2.2, 48.0], [2.2, 48.2], [2.0, 48.2], [2.0, 48.0]]
                    ],
                },
            },
        ]
    )
    for region in (circle, areas):
        cells = region_cells(region)

        assert cells.inside and cells.boundary
        assert _as_ranges(cells) == cover_region(region)
        assert not set(cells.inside) & set(cells.boundary)
        assert all(h3int.is_valid_cell(c) for c in cells.inside + cells.boundary)


def _notice(**overrides: object) -> Notice:
    fields: dict = {
        "id": uuid.uuid4(),
        "person_name": "<img src=x onerror=alert(1)>",
        "person_age": 7,
        "person_description": "Red coat.",
        "photo_url": None,
        "last_seen_at": datetime(2026, 11, 23, 8, 15, tzinfo=UTC),
        "last_seen_place": "Westminster Bridge",
        "last_seen_lat": 51.5008,
        "last_seen_lon": -0.1218,
        "expires_at": None,
        "cap_status": CapStatus.ACTUAL,
    }
    fields.update(overrides)
    return Notice(**fields)


def test_a_pending_notice_previews_in_every_language_with_its_text_verbatim() -> None:
    previews = popup_previews(_notice())

    assert [p.language for p in previews] == list(LANGUAGES)
    assert all("<img src=x onerror=alert(1)>" in p.title for p in previews)
    assert previews[0].title == "Missing person: <img src=x onerror=alert(1)>"
    assert "Last seen Westminster Bridge, Nov 23, 2026, 8:15\u202fAM" in previews[0].body


def test_a_drill_preview_says_so_first() -> None:
    previews = popup_previews(
        _notice(cap_status=CapStatus.EXERCISE, expires_at=datetime.now(UTC) + timedelta(hours=1))
    )

    assert previews[0].title.startswith("[EXERCISE] ")
    assert previews[1].title.startswith("[演习] ")
