"""Target areas (circles, polygons, their unions) as H3 covers, and covers as ranges of
resolution-15 cell ids.

Every device stores the resolution-15 cell of its location. The resolution-15 descendants of
a coarser cell form one contiguous id range (unused digits are 7, the maximum), so a cover of
mixed resolutions becomes a short list of B-tree range scans. Cells wholly inside the circle
need no geometry check; only devices in boundary cells are checked exactly by PostGIS.

Polygons follow GeoJSON (RFC 7946): longitude/latitude positions joined by straight lines in
that plane, holes allowed, and anything that crosses the antimeridian split into parts.
"""

import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import h3
import h3.api.basic_int as h3int
import shapely
from shapely.affinity import translate
from shapely.geometry import MultiPolygon
from shapely.geometry import shape as geojson_shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from geo.sphere import EARTH_RADIUS_M, circle_area_m2, ring_area_m2

DEVICE_RESOLUTION = 15
# Resolution-15 descendants of a cell reach up to ~1.05x its centre-to-vertex distance
# (measured over 200,000 random points at every resolution); 1.2 keeps classification safe.
DESCENDANT_EXTENT_FACTOR = 1.2
# Each evaluated cell costs ~6 us in Python; each device in a boundary cell costs an exact
# distance check in PostGIS (~0.5 us). Round a dense city a 10 km cover at 256 left half its
# devices in boundary cells; 512 refines one level further there (cover 1.5 -> 3.5 ms, query
# 15 -> 10 ms in the server); 2048 took 12-45 ms per cover (docs/benchmarks.md).
DEFAULT_BOUNDARY_BUDGET = 512
# A polygon's boundary is usually longer than a circle's of the same size.
POLYGON_BOUNDARY_BUDGET = 1024
FINEST_COVER_RESOLUTION = 13
# Bounds that keep one cover within tens of milliseconds.
MAX_POLYGON_VERTICES = 5000
MAX_POLYGON_LON_SPAN = 180.0

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


class InvalidArea(ValueError):
    """A target area that cannot be covered; the message says what to fix."""


@dataclass(frozen=True, slots=True, eq=False)
class Polygon:
    """A GeoJSON Polygon or MultiPolygon, kept both as its canonical GeoJSON (what PostGIS
    checks boundary devices against) and as a shapely shape (what the cover is built from)."""

    geojson: str
    shape: BaseGeometry = field(repr=False)


Area = Circle | Polygon
Region = tuple[Area, ...]


@dataclass(frozen=True, slots=True)
class CellRange:
    """Inclusive range of resolution-15 cell ids; `inside` means no geometry check is needed."""

    lo: int
    hi: int
    inside: bool


@dataclass(frozen=True, slots=True)
class CoverCells:
    """A cover as H3 cells (integer ids, mixed resolutions): those wholly inside the area and
    those on its boundary, whose devices PostGIS checks one by one."""

    inside: list[int]
    boundary: list[int]


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


@lru_cache(maxsize=1 << 16)
def _centre_and_extent(cell: int) -> tuple[tuple[float, float], float]:
    """A cell's centre, and how far from it a resolution-15 descendant can lie.

    A cell's shape never changes, and covers around one place (a reach preview's radii, a
    notice's expansion steps) evaluate the same coarse cells again: this was two thirds of
    a cover's time. 65,536 entries hold a few hundred covers' cells in some 20 MB."""
    centre = h3int.cell_to_latlng(cell)
    extent = DESCENDANT_EXTENT_FACTOR * max(
        h3int.great_circle_distance(centre, vertex, unit="m")
        for vertex in h3int.cell_to_boundary(cell)
    )
    return centre, extent


def _reach_m(cell: int, point: tuple[float, float]) -> tuple[float, float]:
    """The nearest and farthest any resolution-15 descendant of `cell` can be from `point`."""
    centre, extent = _centre_and_extent(cell)
    distance = h3int.great_circle_distance(point, centre, unit="m")
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
    merged id ranges."""
    return _ranges(
        circle_cells(circle, boundary_budget=boundary_budget, finest_resolution=finest_resolution)
    )


def circle_cells(
    circle: Circle,
    *,
    boundary_budget: int = DEFAULT_BOUNDARY_BUDGET,
    finest_resolution: int = FINEST_COVER_RESOLUTION,
) -> CoverCells:
    """The cells of `cover_circle` before they become ranges.

    Works on integer cell ids: h3's string API would convert every cell on every call."""
    point = (circle.lat, circle.lon)

    def classify(frontier: list[int]) -> tuple[list[int], list[int]]:
        inside: list[int] = []
        boundary: list[int] = []
        for cell in frontier:
            nearest, farthest = _reach_m(cell, point)
            if nearest <= circle.radius_m:
                (inside if farthest <= circle.radius_m else boundary).append(cell)
        return inside, boundary

    res, frontier = _start(circle, finest_resolution)
    return _refine_cells(
        res,
        frontier,
        classify,
        boundary_budget=boundary_budget,
        finest_resolution=finest_resolution,
    )


def _ranges(cells: CoverCells) -> list[CellRange]:
    return merge_ranges(
        [_id_range(c, inside=True) for c in cells.inside]
        + [_id_range(c, inside=False) for c in cells.boundary]
    )


def _refine_cells(
    res: int,
    frontier: list[int],
    classify: Callable[[list[int]], tuple[list[int], list[int]]],
    *,
    boundary_budget: int,
    finest_resolution: int,
) -> CoverCells:
    """The cover both shapes share: `classify` splits a frontier into cells wholly inside and
    boundary cells (the rest are out); boundary cells are split one resolution finer while
    the boundary stays within `boundary_budget` cells."""
    inside: list[int] = []
    while True:
        within, boundary = classify(frontier)
        inside.extend(within)
        if res >= finest_resolution or len(boundary) * 7 > boundary_budget:
            break
        res += 1
        frontier = [child for cell in boundary for child in h3int.cell_to_children(cell, res)]
    return CoverCells(inside=inside, boundary=boundary)


def polygon_from_geojson(geometry: Mapping[str, Any]) -> Polygon:
    """Validate a GeoJSON Polygon or MultiPolygon geometry; raise InvalidArea saying why not."""
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise InvalidArea(f"geometry type must be Polygon or MultiPolygon, not {kind!r}")
    try:
        shape = geojson_shape(geometry)
    except (ValueError, TypeError, IndexError, AttributeError) as error:
        raise InvalidArea(f"not a valid GeoJSON {kind}: {error}") from None
    parts = list(shape.geoms) if isinstance(shape, MultiPolygon) else [shape]
    if not parts or shape.is_empty:
        raise InvalidArea(f"the {kind} is empty")
    vertices = int(shapely.get_num_coordinates(shape))
    if vertices > MAX_POLYGON_VERTICES:
        raise InvalidArea(f"{vertices} vertices; at most {MAX_POLYGON_VERTICES} are allowed")
    lon_min, lat_min, lon_max, lat_max = shape.bounds
    if not (lon_min >= -180 and lon_max <= 180 and lat_min >= -90 and lat_max <= 90):
        raise InvalidArea("positions must be longitude -180..180, latitude -90..90")
    for part in parts:
        west, _, east, _ = part.bounds
        # A wide part that does not run from -180 to 180 (as a polar cap does) is almost
        # always one meant the short way round, across the antimeridian.
        if east - west > MAX_POLYGON_LON_SPAN and (west, east) != (-180, 180):
            raise InvalidArea(
                f"a polygon spans {east - west:.1f} degrees of longitude; one that crosses the "
                "antimeridian must be split there into a MultiPolygon (RFC 7946, 3.1.9)"
            )
    if not shape.is_valid:
        raise InvalidArea(f"invalid polygon: {explain_validity(shape)}")
    canonical = json.dumps(shapely.geometry.mapping(shape), separators=(",", ":"))
    return Polygon(geojson=canonical, shape=shape)


def region_from_json(areas: Sequence[Mapping[str, Any]]) -> Region:
    """Areas as the API takes and stores them: `{"type": "circle", "lat", "lon",
    "radius_km"}` or `{"type": "polygon", "geometry": <GeoJSON Polygon or MultiPolygon>}`."""
    region: list[Area] = []
    for area in areas:
        if area.get("type") == "circle":
            region.append(Circle(area["lat"], area["lon"], area["radius_km"] * 1000.0))
        elif area.get("type") == "polygon":
            region.append(polygon_from_geojson(area["geometry"]))
        else:
            raise InvalidArea(f"area type must be circle or polygon, not {area.get('type')!r}")
    if not region:
        raise InvalidArea("a region needs at least one area")
    return tuple(region)


def _polygons(geometry: Mapping[str, Any]) -> list[Any]:
    """A GeoJSON Polygon's or MultiPolygon's polygons, each a list of rings."""
    coordinates = geometry["coordinates"]
    return [coordinates] if geometry["type"] == "Polygon" else list(coordinates)


def area_m2(area: Mapping[str, Any]) -> float:
    """The area an API area (see region_from_json) covers: holes are not counted."""
    if area["type"] == "circle":
        return circle_area_m2(area["radius_km"] * 1000.0)
    return sum(
        max(0.0, ring_area_m2(outer) - sum(ring_area_m2(hole) for hole in holes))
        for outer, *holes in _polygons(area["geometry"])
    )


def vertex_count(area: Mapping[str, Any]) -> int:
    """Positions of an API area's rings; a circle has none."""
    if area["type"] == "circle":
        return 0
    return sum(len(ring) for polygon in _polygons(area["geometry"]) for ring in polygon)


def area_bounds(area: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """West, south, east and north of an API area, rounded to about 100 m: where it lies,
    for a record of what was asked (a circle's box ignores the antimeridian)."""
    if area["type"] == "circle":
        dlat = math.degrees(area["radius_km"] * 1000.0 / EARTH_RADIUS_M)
        dlon = dlat / max(math.cos(math.radians(area["lat"])), 1e-6)
        west, south = area["lon"] - dlon, area["lat"] - dlat
        east, north = area["lon"] + dlon, area["lat"] + dlat
    else:
        outer = [position for polygon in _polygons(area["geometry"]) for position in polygon[0]]
        west, east = min(p[0] for p in outer), max(p[0] for p in outer)
        south, north = min(p[1] for p in outer), max(p[1] for p in outer)
    return (round(west, 3), round(south, 3), round(east, 3), round(north, 3))


def _wrapped(shape: BaseGeometry) -> BaseGeometry:
    """The shape with copies one turn east and west, so a box that runs past +-180 degrees is
    tested against what lies across the antimeridian."""
    return shapely.union_all([shape, translate(shape, xoff=360), translate(shape, xoff=-360)])


def _descendant_boxes(cells: Sequence[int]) -> list[tuple[float, float, float, float]]:
    """For each cell, a longitude/latitude box holding every resolution-15 descendant: the
    box around the spherical cap of the cell's descendant extent. Longitudes may run past
    +-180 degrees; a cap that reaches a pole spans every longitude."""
    boxes = []
    for cell in cells:
        (lat, lon), extent = _centre_and_extent(cell)
        angle = extent / EARTH_RADIUS_M
        dlat = math.degrees(angle)
        if abs(lat) + dlat >= 90:
            south = -90.0 if lat - dlat <= -90 else lat - dlat
            north = 90.0 if lat + dlat >= 90 else lat + dlat
            boxes.append((-180.0, south, 180.0, north))
        else:
            dlon = math.degrees(math.asin(math.sin(angle) / math.cos(math.radians(lat))))
            boxes.append((lon - dlon, lat - dlat, lon + dlon, lat + dlat))
    return boxes


def cover_polygon(
    polygon: Polygon,
    *,
    boundary_budget: int = POLYGON_BOUNDARY_BUDGET,
    finest_resolution: int = FINEST_COVER_RESOLUTION,
) -> list[CellRange]:
    """Cells whose descendants can lie in the polygon, refined down from resolution 0 while
    the boundary stays within `boundary_budget` cells, as merged id ranges."""
    return _ranges(
        polygon_cells(polygon, boundary_budget=boundary_budget, finest_resolution=finest_resolution)
    )


def polygon_cells(
    polygon: Polygon,
    *,
    boundary_budget: int = POLYGON_BOUNDARY_BUDGET,
    finest_resolution: int = FINEST_COVER_RESOLUTION,
) -> CoverCells:
    """The cells of `cover_polygon` before they become ranges. A cell is inside when the box
    around its descendants is, so inside ranges need no geometry check."""
    target = _wrapped(polygon.shape)
    shapely.prepare(target)

    def classify(frontier: list[int]) -> tuple[list[int], list[int]]:
        boxes = shapely.box(*zip(*_descendant_boxes(frontier), strict=True))
        within = shapely.contains(target, boxes)
        touching = shapely.intersects(target, boxes)
        inside = [c for c, w in zip(frontier, within, strict=True) if w]
        boundary = [c for c, w, t in zip(frontier, within, touching, strict=True) if t and not w]
        return inside, boundary

    return _refine_cells(
        0,
        list(h3int.get_res0_cells()),
        classify,
        boundary_budget=boundary_budget,
        finest_resolution=finest_resolution,
    )


def cover_region(region: Region) -> list[CellRange]:
    """The union of the areas' covers: a device in several areas is selected once, without a
    geometry check if any area holds its cell wholly."""
    return union_ranges(
        [cover_circle(area) if isinstance(area, Circle) else cover_polygon(area) for area in region]
    )


def region_cells(region: Region) -> CoverCells:
    """Every area's cover cells, as `cover_region` unites them: for showing a cover on a map
    (cells of overlapping areas may overlap)."""
    inside: list[int] = []
    boundary: list[int] = []
    for area in region:
        cells = circle_cells(area) if isinstance(area, Circle) else polygon_cells(area)
        inside += cells.inside
        boundary += cells.boundary
    return CoverCells(inside=inside, boundary=boundary)


def union_ranges(covers: Iterable[Sequence[CellRange]]) -> list[CellRange]:
    """Disjoint ranges covering every id of every cover; an id is `inside` when any cover
    holds it in an inside range (a coarse boundary cell of one area may contain a finer
    inside cell of another)."""
    events: dict[int, list[int]] = {}
    for cover in covers:
        for r in cover:
            events.setdefault(r.lo, [0, 0])
            events.setdefault(r.hi + 1, [0, 0])
            events[r.lo][int(r.inside)] += 1
            events[r.hi + 1][int(r.inside)] -= 1
    pieces: list[CellRange] = []
    open_count = [0, 0]
    points = sorted(events)
    for start, end in itertools.pairwise(points):
        open_count[0] += events[start][0]
        open_count[1] += events[start][1]
        if open_count[0] or open_count[1]:
            pieces.append(CellRange(lo=start, hi=end - 1, inside=open_count[1] > 0))
    return merge_ranges(pieces)


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


def target_region(
    areas: list[dict[str, Any]] | None, *, lat: float, lon: float, radius_km: float | None
) -> Region:
    """A notice's target: its drawn areas, or else the circle round its last-seen place."""
    if areas:
        return region_from_json(areas)
    assert radius_km is not None, "a notice without areas has a radius"
    return (Circle(lat, lon, radius_km * 1000.0),)
