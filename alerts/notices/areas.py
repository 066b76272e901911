"""Target areas in requests: circles and RFC 7946 GeoJSON polygons, validated as geo will cover
them."""

from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from alerts.fields import Latitude, Longitude, RadiusKm, Request
from geo.regions import area_m2, polygon_from_geojson

Coordinate = Annotated[float, Field(allow_inf_nan=False)]

# GeoJSON position: longitude, latitude and an optional altitude that is ignored.
Position = Annotated[list[Coordinate], Field(min_length=2, max_length=3)]


def closed(ring: list[list[float]]) -> list[list[float]]:
    """Stored as given and exported to CAP, whose polygons must close: an open ring would
    make an alert no CAP reader, hexcast's own included, accepts."""
    if ring[0] != ring[-1]:
        raise ValueError("a ring must end at its first position (RFC 7946, 3.1.6)")
    return ring


Ring = Annotated[list[Position], Field(min_length=4), AfterValidator(closed)]

MAX_AREAS = 20

# The complexity budget of one request's areas, so that covering them costs at most about
# 200 ms of CPU (docs/benchmarks.md, "Area budget"): a cover costs ~0.07 ms per vertex plus
# ~5-10 ms per area whatever its size, counted here as AREA_COST_VERTICES vertices.
MAX_REQUEST_VERTICES = 2500
AREA_COST_VERTICES = 160
# About the largest circle (500 km: 785,000 km2), or a country the size of France twice.
MAX_TOTAL_AREA_KM2 = 1_000_000

_SQUARE = [[-0.15, 51.49], [-0.10, 51.49], [-0.10, 51.52], [-0.15, 51.52], [-0.15, 51.49]]

POLYGON_AREA_EXAMPLE: dict[str, Any] = {
    "type": "polygon",
    "geometry": {"type": "Polygon", "coordinates": [_SQUARE]},
}


class GeoJsonPolygon(Request):
    type: Literal["Polygon"]
    coordinates: list[Ring] = Field(min_length=1, description="Outer ring, then holes")
    bbox: list[Coordinate] | None = None


class GeoJsonMultiPolygon(Request):
    type: Literal["MultiPolygon"]
    coordinates: list[Annotated[list[Ring], Field(min_length=1)]] = Field(min_length=1)
    bbox: list[Coordinate] | None = None


class CircleArea(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"type": "circle", "lat": 51.5007, "lon": -0.1246, "radius_km": 5}]
        }
    )

    type: Literal["circle"]
    lat: Latitude
    lon: Longitude
    radius_km: RadiusKm


class PolygonArea(Request):
    """GeoJSON (RFC 7946): straight edges in longitude/latitude, holes allowed; an area that
    crosses the antimeridian is a MultiPolygon split there."""

    model_config = ConfigDict(json_schema_extra={"examples": [POLYGON_AREA_EXAMPLE]})

    type: Literal["polygon"]
    geometry: Annotated[GeoJsonPolygon | GeoJsonMultiPolygon, Field(discriminator="type")]

    @model_validator(mode="after")
    def _coverable(self) -> Self:
        polygon_from_geojson(self.geometry.model_dump(exclude_none=True))
        return self


Area = Annotated[CircleArea | PolygonArea, Field(discriminator="type")]


def areas_json(areas: list[CircleArea | PolygonArea]) -> list[dict[str, Any]]:
    return [area.model_dump(mode="json", exclude_none=True) for area in areas]


def _positions(coordinates: Any) -> int:
    """Positions in a GeoJSON coordinates array of any nesting, before it is validated."""
    if not isinstance(coordinates, list) or not coordinates:
        return 0
    if not isinstance(coordinates[0], list):
        return 1
    return sum(_positions(part) for part in coordinates)


def affordable(areas: Any) -> Any:
    """Refuse areas whose cover would cost too much CPU, counted on the raw request before
    any polygon is parsed or checked, which itself costs more than the budget allows for
    20 polygons of 5,000 vertices. Malformed input is left to validation."""
    if not isinstance(areas, list):
        return areas
    cost = 0
    for area in areas:
        geometry = area.get("geometry") if isinstance(area, dict) else None
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        cost += _positions(coordinates) + AREA_COST_VERTICES
    if cost > MAX_REQUEST_VERTICES:
        raise ValueError(
            f"the areas are too complex: their vertices plus {AREA_COST_VERTICES} per area come "
            f"to {cost}, at most {MAX_REQUEST_VERTICES} are allowed; simplify the polygons or "
            "merge areas"
        )
    return areas


def within_area_limit(
    areas: list[CircleArea | PolygonArea],
) -> list[CircleArea | PolygonArea]:
    """Refuse areas larger together than any alert should reach."""
    total_km2 = sum(area_m2(area) for area in areas_json(areas)) / 1e6
    if total_km2 > MAX_TOTAL_AREA_KM2:
        raise ValueError(
            f"the areas cover {total_km2:,.0f} km2 together; at most {MAX_TOTAL_AREA_KM2:,} "
            "km2 are allowed"
        )
    return areas


Areas = Annotated[
    list[Area],
    Field(
        min_length=1,
        max_length=MAX_AREAS,
        description=f"Targeted together, as a union. Their vertices plus {AREA_COST_VERTICES} "
        f"per area may come to {MAX_REQUEST_VERTICES}, their areas to {MAX_TOTAL_AREA_KM2:,} "
        "km2.",
    ),
    BeforeValidator(affordable),
    AfterValidator(within_area_limit),
]
