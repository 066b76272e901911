"""The H3 cover of GeoJSON polygons and of unions of areas: every point inside is in some
range, and a range marked `inside` holds no point outside. Polygons are checked by brute
force with shapely, in GeoJSON's longitude/latitude plane, the model PostGIS checks the
boundary cells in."""

import bisect
import itertools
import math
import random
from collections.abc import Sequence

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.affinity import translate
from shapely.geometry import MultiPolygon, box, mapping
from shapely.geometry import Polygon as ShapelyPolygon

from geo.regions import (
    CellRange,
    Circle,
    InvalidArea,
    Polygon,
    cover_circle,
    cover_polygon,
    cover_region,
    device_cell,
    polygon_from_geojson,
    region_from_json,
    union_ranges,
)
from geo.sphere import destination, distance_m

WORLD = box(-180, -90, 180, 90)


def _find(ranges: Sequence[CellRange], cell: int) -> CellRange | None:
    i = bisect.bisect_right([r.lo for r in ranges], cell) - 1
    if i >= 0 and ranges[i].lo <= cell <= ranges[i].hi:
        return ranges[i]
    return None


def _star(
    lat: float, lon: float, radii_m: Sequence[float], *, hole: bool
) -> tuple[ShapelyPolygon, list[tuple[float, float]]]:
    """A star-shaped polygon round (lat, lon) in longitudes unwrapped around `lon` (they may
    pass +-180), optionally with a hole: the same star at a third of the size."""
    n = len(radii_m)

    def ring(scale: float) -> list[tuple[float, float]]:
        points = []
        for i, r in enumerate(radii_m):
            plat, plon = destination(lat, lon, r * scale, 360.0 * i / n)
            plon = lon + ((plon - lon + 540.0) % 360.0 - 180.0)
            points.append((plon, plat))
        return points

    outer = ring(1.0)
    return ShapelyPolygon(outer, [ring(1 / 3)] if hole else []), outer


def _split_at_antimeridian(shape: ShapelyPolygon) -> MultiPolygon | ShapelyPolygon:
    """RFC 7946's rule: a shape crossing the antimeridian is cut into parts on each side."""
    parts = [
        translate(shape.intersection(box(-180 + shift, -90, 180 + shift, 90)), xoff=-shift)
        for shift in (-360, 0, 360)
    ]
    polygons = [
        p
        for part in parts
        for p in (part.geoms if isinstance(part, MultiPolygon) else [part])
        if isinstance(p, ShapelyPolygon) and not p.is_empty
    ]
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def _edge_probes(
    vertices: Sequence[tuple[float, float]], rng: random.Random, count: int
) -> list[tuple[float, float]]:
    """Points within a few metres either side of the polygon's edges, where a wrong cell
    classification would show."""
    probes = []
    for _ in range(count):
        i = rng.randrange(len(vertices))
        (x1, y1), (x2, y2) = vertices[i], vertices[(i + 1) % len(vertices)]
        t = rng.random()
        jitter = rng.uniform(-3e-5, 3e-5)
        probes.append((x1 + t * (x2 - x1) + jitter, y1 + t * (y2 - y1) - jitter))
    return probes


def _normalized(lon: float) -> float:
    return (lon + 540.0) % 360.0 - 180.0


centres_lat = st.one_of(st.floats(-80, 80), st.floats(70, 84), st.floats(-84, -70))
centres_lon = st.one_of(st.floats(-180, 180), st.floats(179, 180), st.floats(-180, -179))


@settings(max_examples=120, deadline=None)
@given(
    lat=centres_lat,
    lon=centres_lon,
    size_m=st.floats(200, 300_000),
    shape_factors=st.lists(st.floats(0.3, 1.0), min_size=3, max_size=16),
    hole=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_point_in_the_polygon_is_covered_and_inside_ranges_hold_no_point_outside(
    lat: float,
    lon: float,
    size_m: float,
    shape_factors: list[float],
    hole: bool,
    seed: int,
) -> None:
    star, outer = _star(lat, lon, [size_m * f for f in shape_factors], hole=hole)
    shape = _split_at_antimeridian(star)
    polygon = polygon_from_geojson(mapping(shape))
    ranges = cover_polygon(polygon)

    assert all(a.hi < b.lo for a, b in itertools.pairwise(ranges)), "sorted, disjoint"
    rng = random.Random(seed)
    west, south, east, north = star.bounds
    probes = [(rng.uniform(west, east), rng.uniform(south, north)) for _ in range(150)]
    probes += _edge_probes(outer, rng, 150)
    for x, y in probes:
        if not -90 <= y <= 90:
            continue
        point = (_normalized(x), y)
        covered = bool(shapely.covers(polygon.shape, shapely.Point(point)))
        found = _find(ranges, device_cell(point[1], point[0]))
        if covered:
            assert found is not None, f"missed {point}, inside the polygon"
        if found is not None and found.inside:
            assert covered, f"an inside range holds {point}, outside the polygon"


def test_a_polygon_round_a_pole_covers_the_pole() -> None:
    cap = polygon_from_geojson(
        {
            "type": "Polygon",
            "coordinates": [[[-180, 85], [180, 85], [180, 90], [-180, 90], [-180, 85]]],
        }
    )
    ranges = cover_polygon(cap)
    for lon in range(-180, 180, 15):
        found = _find(ranges, device_cell(89.99, lon))
        assert found is not None and found.inside
    below = _find(ranges, device_cell(84.9, 0))
    assert below is None or not below.inside


def test_the_two_halves_of_an_area_across_the_antimeridian_are_one_target() -> None:
    halves = polygon_from_geojson(
        {
            "type": "MultiPolygon",
            "coordinates": [
                [[[179.5, -17], [180, -17], [180, -16], [179.5, -16], [179.5, -17]]],
                [[[-180, -17], [-179.5, -17], [-179.5, -16], [-180, -16], [-180, -17]]],
            ],
        }
    )
    ranges = cover_polygon(halves)
    for lon in (179.6, 179.999, -179.999, -179.6):
        found = _find(ranges, device_cell(-16.5, lon))
        assert found is not None and found.inside, lon
    assert _find(ranges, device_cell(-16.5, 179.0)) is None
    assert _find(ranges, device_cell(-16.5, -179.0)) is None


def test_a_hole_is_not_targeted() -> None:
    outer = [[2.2, 48.8], [2.5, 48.8], [2.5, 48.95], [2.2, 48.95], [2.2, 48.8]]
    hole = [[2.3, 48.85], [2.4, 48.85], [2.4, 48.9], [2.3, 48.9], [2.3, 48.85]]
    ranges = cover_polygon(polygon_from_geojson({"type": "Polygon", "coordinates": [outer, hole]}))
    assert _find(ranges, device_cell(48.875, 2.35)) is None
    found = _find(ranges, device_cell(48.82, 2.25))
    assert found is not None and found.inside


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Point", "coordinates": [0, 0]}, "Polygon or MultiPolygon"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "Self-intersection",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[170, 0], [-170, 0], [-170, 1], [170, 1], [170, 0]]],
            },
            "antimeridian",
        ),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [2, 0], [0, 0]]]}, "invalid polygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [0, 1], [0, 0]]]}, "longitude"),
    ],
)
def test_polygons_that_cannot_be_targeted_are_refused_with_the_reason(
    geometry: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArea, match=message):
        polygon_from_geojson(geometry)


def test_too_many_vertices_are_refused() -> None:
    ring = [
        [math.cos(a) * 0.1, math.sin(a) * 0.1]
        for a in (2 * math.pi * i / 6000 for i in range(6000))
    ]
    with pytest.raises(InvalidArea, match="vertices"):
        polygon_from_geojson({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})


# --- unions ----------------------------------------------------------------------------


def test_union_keeps_ids_once_and_inside_wins_over_boundary() -> None:
    a = [CellRange(0, 99, False)]
    b = [CellRange(10, 19, True), CellRange(150, 160, False)]
    assert union_ranges([a, b]) == [
        CellRange(0, 9, False),
        CellRange(10, 19, True),
        CellRange(20, 99, False),
        CellRange(150, 160, False),
    ]


def test_union_of_one_cover_is_that_cover() -> None:
    cover = cover_circle(Circle(48.85, 2.35, 3000))
    assert union_ranges([cover]) == cover


@settings(max_examples=40, deadline=None)
@given(
    lat=st.floats(-60, 60),
    lon=st.floats(-179, 179),
    radii=st.lists(st.floats(200, 20_000), min_size=2, max_size=4),
    bearings=st.lists(st.floats(0, 360), min_size=4, max_size=4),
    probes=st.lists(st.tuples(st.floats(0, 30_000), st.floats(0, 360)), max_size=60),
)
def test_a_union_of_circles_covers_each_and_inside_means_inside_one(
    lat: float,
    lon: float,
    radii: list[float],
    bearings: list[float],
    probes: list[tuple[float, float]],
) -> None:
    circles = [
        Circle(*destination(lat, lon, r / 2, bearing), r)
        for r, bearing in zip(radii, bearings, strict=False)
    ]
    ranges = cover_region(tuple(circles))
    assert all(a.hi < b.lo for a, b in itertools.pairwise(ranges))
    for distance, bearing in probes:
        plat, plon = destination(lat, lon, distance, bearing)
        inside_any = any(distance_m((c.lat, c.lon), (plat, plon)) <= c.radius_m for c in circles)
        found = _find(ranges, device_cell(plat, plon))
        if inside_any:
            assert found is not None
        if found is not None and found.inside:
            assert inside_any


def test_areas_are_read_back_from_their_stored_form() -> None:
    region = region_from_json(
        [
            {"type": "circle", "lat": 1.0, "lon": 2.0, "radius_km": 3},
            {
                "type": "polygon",
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            },
        ]
    )
    assert region[0] == Circle(1.0, 2.0, 3000.0)
    assert isinstance(region[1], Polygon) and region[1].shape.area == pytest.approx(0.5)
