"""Circles as H3 covers, and covers as ranges of resolution-15 cell ids.

Every device stores the resolution-15 cell of its location. The resolution-15 descendants of
a coarser cell form one contiguous id range (unused digits are 7, the maximum), so a cover of
mixed resolutions becomes a short list of B-tree range scans. Cells wholly inside the circle
need no geometry check; only devices in boundary cells are checked exactly by PostGIS.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import h3

DEVICE_RESOLUTION = 15
# Resolution-15 descendants of a cell reach up to ~1.05x its centre-to-vertex distance
# (measured over 200,000 random points at every resolution); 1.2 keeps classification safe.
DESCENDANT_EXTENT_FACTOR = 1.2
DEFAULT_BOUNDARY_BUDGET = 2048
FINEST_COVER_RESOLUTION = 13

_RES_SHIFT = 52
_RES_MASK = 0xF << _RES_SHIFT


@dataclass(frozen=True, slots=True)
class Circle:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class CellRange:
    """Inclusive range of resolution-15 cell ids; `inside` means no geometry check is needed."""

    lo: int
    hi: int
    inside: bool


def device_cell(lat: float, lon: float) -> int:
    return h3.str_to_int(h3.latlng_to_cell(lat, lon, DEVICE_RESOLUTION))


def cell_range(cell: str, *, inside: bool) -> CellRange:
    """The ids of every resolution-15 descendant of `cell`."""
    value = h3.str_to_int(cell)
    res = h3.get_resolution(cell)
    hi = (value & ~_RES_MASK) | (DEVICE_RESOLUTION << _RES_SHIFT)
    lo = hi & ~((1 << (3 * (DEVICE_RESOLUTION - res))) - 1)
    return CellRange(lo=lo, hi=hi, inside=inside)


def _extent_m(cell: str, centre: tuple[float, float]) -> float:
    return DESCENDANT_EXTENT_FACTOR * max(
        h3.great_circle_distance(centre, vertex, unit="m") for vertex in h3.cell_to_boundary(cell)
    )


def cover_circle(
    circle: Circle,
    *,
    boundary_budget: int = DEFAULT_BOUNDARY_BUDGET,
    finest_resolution: int = FINEST_COVER_RESOLUTION,
) -> list[CellRange]:
    """Cells whose descendants can lie within the circle, refined from resolution 0 down while
    the boundary stays within `boundary_budget` cells, as merged id ranges."""
    point = (circle.lat, circle.lon)
    inside: list[str] = []
    frontier: list[str] = list(h3.get_res0_cells())
    res = 0
    while True:
        boundary: list[str] = []
        for cell in frontier:
            centre = h3.cell_to_latlng(cell)
            distance = h3.great_circle_distance(point, centre, unit="m")
            extent = _extent_m(cell, centre)
            if distance - extent > circle.radius_m:
                continue
            if distance + extent <= circle.radius_m:
                inside.append(cell)
            else:
                boundary.append(cell)
        if res >= finest_resolution or len(boundary) * 7 > boundary_budget:
            break
        res += 1
        frontier = [child for cell in boundary for child in h3.cell_to_children(cell, res)]
    return merge_ranges(
        [cell_range(c, inside=True) for c in inside]
        + [cell_range(c, inside=False) for c in boundary]
    )


def merge_ranges(ranges: Iterable[CellRange]) -> list[CellRange]:
    """Sort and join ranges that touch and need the same check."""
    merged: list[CellRange] = []
    for r in sorted(ranges, key=lambda r: r.lo):
        last = merged[-1] if merged else None
        if last and last.inside == r.inside and r.lo <= last.hi + 1:
            merged[-1] = CellRange(lo=last.lo, hi=max(last.hi, r.hi), inside=r.inside)
        else:
            merged.append(r)
    return merged
