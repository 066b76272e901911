"""The H3 cover of a circle, as ranges of resolution-15 ids: a device inside the circle is
always in some range, and a range marked `inside` holds no device outside the circle."""

import bisect
import itertools
import math
from collections.abc import Sequence

import h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.regions import (
    DEVICE_RESOLUTION,
    CellRange,
    Circle,
    cell_range,
    cover_circle,
    device_cell,
    merge_ranges,
)
from geo.sphere import destination, distance_m

PARIS = (48.8566, 2.3522)


def _ids_in(r: CellRange) -> set[int]:
    return set(range(r.lo, r.hi + 1))


def _descendant_ids(cell: str) -> set[int]:
    return {h3.str_to_int(c) for c in h3.cell_to_children(cell, DEVICE_RESOLUTION)}


@pytest.mark.parametrize(
    "cell",
    [
        h3.latlng_to_cell(*PARIS, 10),
        h3.latlng_to_cell(-33.8688, 151.2093, 11),
        h3.latlng_to_cell(89.9, 179.95, 12),
        h3.cell_to_center_child(h3.get_pentagons(10)[3], 11),  # a pentagon
        h3.latlng_to_cell(*PARIS, 14),
        h3.latlng_to_cell(*PARIS, 15),
    ],
)
def test_a_cell_range_holds_exactly_the_cells_resolution_15_descendants(cell: str) -> None:
    r = cell_range(cell, inside=True)
    valid_in_range = {i for i in range(r.lo, r.hi + 1) if h3.is_valid_cell(h3.int_to_str(i))}
    assert valid_in_range == _descendant_ids(cell)
    assert r.lo == h3.str_to_int(h3.cell_to_center_child(cell, DEVICE_RESOLUTION))


def test_a_coarse_cells_range_holds_its_descendants_and_none_of_its_neighbours() -> None:
    cell = h3.latlng_to_cell(*PARIS, 6)
    r = cell_range(cell, inside=False)
    assert r.inside is False
    inside = h3.cell_to_children(cell, 9)[::97]
    for child in inside:
        for grandchild in h3.cell_to_children(child, DEVICE_RESOLUTION)[::501]:
            assert r.lo <= h3.str_to_int(grandchild) <= r.hi
    for neighbour in h3.grid_ring(cell, 1):
        other = cell_range(neighbour, inside=False)
        assert other.hi < r.lo or other.lo > r.hi, "neighbouring ranges do not overlap"
        for child in h3.cell_to_children(neighbour, 9)[::97]:
            centre_child = h3.str_to_int(h3.cell_to_center_child(child, DEVICE_RESOLUTION))
            assert not r.lo <= centre_child <= r.hi


def test_a_devices_cell_is_in_the_range_of_each_of_its_ancestors() -> None:
    device = device_cell(40.7128, -74.0060)
    for res in range(16):
        r = cell_range(h3.cell_to_parent(h3.int_to_str(device), res), inside=True)
        assert r.lo <= device <= r.hi


# --- merge_ranges ------------------------------------------------------------------------


def test_merge_joins_touching_and_overlapping_ranges_of_the_same_kind() -> None:
    merged = merge_ranges(
        [
            CellRange(20, 29, True),
            CellRange(0, 9, True),
            CellRange(10, 12, True),  # touches 0-9
            CellRange(25, 40, True),  # overlaps 20-29
            CellRange(22, 23, True),  # within 20-29
        ]
    )
    assert merged == [CellRange(0, 12, True), CellRange(20, 40, True)]


def test_merge_keeps_ranges_of_different_kinds_apart() -> None:
    ranges = [CellRange(10, 19, False), CellRange(0, 9, True), CellRange(20, 29, True)]
    assert merge_ranges(ranges) == sorted(ranges, key=lambda r: r.lo)


def test_merge_keeps_a_gap_of_one_id() -> None:
    assert merge_ranges([CellRange(0, 9, True), CellRange(11, 20, True)]) == [
        CellRange(0, 9, True),
        CellRange(11, 20, True),
    ]


def test_merge_of_nothing_is_nothing() -> None:
    assert merge_ranges([]) == []


def test_merging_a_cells_children_gives_the_cells_range() -> None:
    cell = h3.latlng_to_cell(*PARIS, 11)
    children = [cell_range(c, inside=True) for c in h3.cell_to_children(cell, 12)]
    [merged] = merge_ranges(reversed(children))
    assert _descendant_ids(cell) <= _ids_in(merged)
    assert merged.lo == cell_range(cell, inside=True).lo


# --- cover_circle ------------------------------------------------------------------------


def _find(ranges: Sequence[CellRange], cell: int) -> CellRange | None:
    i = bisect.bisect_right([r.lo for r in ranges], cell) - 1
    if i >= 0 and ranges[i].lo <= cell <= ranges[i].hi:
        return ranges[i]
    return None


latitudes = st.one_of(st.floats(-90, 90), st.floats(70, 90), st.floats(-90, -70))
longitudes = st.one_of(st.floats(-180, 180), st.floats(179, 180), st.floats(-180, -179))
# (distance as a fraction of the radius, bearing); many right at the edge.
offsets = st.tuples(
    st.one_of(st.floats(0, 2), st.floats(0.995, 1.005)),
    st.floats(0, 360, exclude_max=True),
)


@settings(max_examples=150, deadline=None)
@given(
    lat=latitudes,
    lon=longitudes,
    radius_m=st.floats(100, 500_000),
    points=st.lists(offsets, min_size=1, max_size=100),
)
def test_the_cover_finds_every_point_inside_and_inside_ranges_never_overshoot(
    lat: float, lon: float, radius_m: float, points: list[tuple[float, float]]
) -> None:
    ranges = cover_circle(Circle(lat, lon, radius_m))

    assert all(a.hi < b.lo for a, b in itertools.pairwise(ranges)), "sorted, disjoint"
    for fraction, bearing in points:
        plat, plon = destination(lat, lon, fraction * radius_m, bearing)
        distance = distance_m((lat, lon), (plat, plon))
        found = _find(ranges, device_cell(plat, plon))
        if distance <= radius_m:
            assert found is not None, f"missed a point {distance:.1f} m from the centre"
        if found is not None and found.inside:
            assert distance <= radius_m, f"an inside range holds a point {distance:.1f} m out"


def test_areas_are_measured_on_the_sphere() -> None:
    from geo.regions import area_bounds, area_m2
    from geo.sphere import circle_area_m2

    square = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
    hole = [[0.2, 0.2], [0.3, 0.2], [0.3, 0.3], [0.2, 0.3], [0.2, 0.2]]
    polygon = {"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [square, hole]}}
    # One degree square at the equator: 12,364 km2 (111.2 km by 111.2 km), less the hole's 1%.
    assert area_m2(polygon) / 1e6 == pytest.approx(12_364 * 0.99, rel=0.002)
    circle = {"type": "circle", "lat": 60, "lon": 10, "radius_km": 1}
    assert area_m2(circle) == pytest.approx(circle_area_m2(1000), rel=1e-9)
    assert circle_area_m2(1000) / 1e6 == pytest.approx(math.pi, rel=1e-6)
    assert area_bounds(polygon) == (0, 0, 1, 1)
    west, south, east, north = area_bounds(circle)
    assert (north - south, east - west) == pytest.approx((0.018, 0.036), abs=0.001)
