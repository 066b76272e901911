"""Circles as H3 covers, and covers as ranges of resolution-15 cell ids.

Every device stores the resolution-15 cell of its location. The resolution-15 descendants of
a coarser cell form one contiguous id range (unused digits are 7, the maximum), so a cover of
mixed resolutions becomes a short list of B-tree range scans. Cells wholly inside the circle
need no geometry check; only devices in boundary cells are checked exactly by PostGIS.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import h3
import h3.api.basic_int as h3int

DEVICE_RESOLUTION = 15
# Resolution-15 descendants of a cell reach up to ~1.05x its centre-to-vertex distance
# (measured over 200,000 random points at every resolution); 1.2 keeps classification safe.
DESCENDANT_EXTENT_FACTOR = 1.2
# Each evaluated cell costs ~6 us in Python; each device in a boundary cell costs an exact
# distance check in PostGIS (~0.5 us). Round a dense city a 10 km cover at 256 left half its
# devices in boundary cells; 512 refines one level further there (cover 1.5 -> 3.5 ms, query
# 15 -> 10 ms in the server); 2048 took 12-45 ms per cover (docs/benchmarks.md).
DEFAULT_BOUNDARY_BUDGET = 512
FINEST_COVER_RESOLUTION = 13

_RES_SHIFT = 52
_RES_MASK = 0xF << _RES_SHIFT
_EDGE_M = [  # average hexagon edge by resolution
    h3.average_hexagon_edge_length(r, unit="m") for r in range(DEVICE_RESOLUTION + 1)
]


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
    return _id_range(h3.str_to_int(cell), inside=inside)


def _id_range(cell: int, *, inside: bool) -> CellRange:
    res = (cell & _RES_MASK) >> _RES_SHIFT
    hi = (cell & ~_RES_MASK) | (DEVICE_RESOLUTION << _RES_SHIFT)
    lo = hi & ~((1 << (3 * (DEVICE_RESOLUTION - res))) - 1)
    return CellRange(lo=lo, hi=hi, inside=inside)


def _reach_m(cell: int, point: tuple[float, float]) -> tuple[float, float]:
    """The nearest and farthest any resolution-15 descendant of `cell` can be from `point`."""
    centre = h3int.cell_to_latlng(cell)
    distance = h3int.great_circle_distance(point, centre, unit="m")
    extent = DESCENDANT_EXTENT_FACTOR * max(
        h3int.great_circle_distance(centre, vertex, unit="m")
        for vertex in h3int.cell_to_boundary(cell)
    )
    return distance - extent, distance + extent


def _start(circle: Circle, finest_resolution: int) -> tuple[int, list[int]]:
    """Where refinement can begin: the finest resolution whose cells are about twice the
    radius across, with the centre's cell and its neighbours, provided every cell two steps
    away is out of reach (that ring encloses all cells the circle can reach); else all of
    resolution 0. Saves the ~250 cells a small circle's cover used to evaluate above it."""
    point = (circle.lat, circle.lon)
    res = next((r for r in range(finest_resolution, 0, -1) if _EDGE_M[r] >= 2 * circle.radius_m), 0)
    if res == 0:
        return 0, list(h3int.get_res0_cells())
    # The ancestor holding the centre's resolution-15 cell, not latlng_to_cell at `res`:
    # descendants do not follow their ancestors' borders exactly.
    centre = h3int.cell_to_parent(h3int.latlng_to_cell(*point, DEVICE_RESOLUTION), res)
    near = set(h3int.grid_disk(centre, 1))
    ring = set(h3int.grid_disk(centre, 2)) - near
    if all(_reach_m(cell, point)[0] > circle.radius_m for cell in ring):
        return res, sorted(near)
    return 0, list(h3int.get_res0_cells())


def cover_circle(
    circle: Circle,
    *,
    boundary_budget: int = DEFAULT_BOUNDARY_BUDGET,
    finest_resolution: int = FINEST_COVER_RESOLUTION,
) -> list[CellRange]:
    """Cells whose descendants can lie within the circle, refined down from a resolution
    where a few cells hold it while the boundary stays within `boundary_budget` cells, as
    merged id ranges.

    Works on integer cell ids: h3's string API would convert every cell on every call."""
    point = (circle.lat, circle.lon)
    inside: list[int] = []
    res, frontier = _start(circle, finest_resolution)
    while True:
        boundary: list[int] = []
        for cell in frontier:
            nearest, farthest = _reach_m(cell, point)
            if nearest > circle.radius_m:
                continue
            if farthest <= circle.radius_m:
                inside.append(cell)
            else:
                boundary.append(cell)
        if res >= finest_resolution or len(boundary) * 7 > boundary_budget:
            break
        res += 1
        frontier = [child for cell in boundary for child in h3int.cell_to_children(cell, res)]
    return merge_ranges(
        [_id_range(c, inside=True) for c in inside] + [_id_range(c, inside=False) for c in boundary]
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
