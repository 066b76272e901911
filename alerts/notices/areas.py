"""Target areas in requests: circles and RFC 7946 GeoJSON polygons, validated as geo will cover
them."""

from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    model_validator,
)

from alerts.fields import Latitude, Longitude, RadiusKm, Request
from geo.regions import polygon_from_geojson

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

_SQUARE = [[-0.15, 51.49], [-0.10, 51.49], [-0.10, 51.52], [-0.15, 51.52], [-0.15, 51.49]]

_POLYGON_AREA_EXAMPLE: dict[str, Any] = {
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

    model_config = ConfigDict(json_schema_extra={"examples": [_POLYGON_AREA_EXAMPLE]})

    type: Literal["polygon"]
    geometry: Annotated[GeoJsonPolygon | GeoJsonMultiPolygon, Field(discriminator="type")]

    @model_validator(mode="after")
    def _coverable(self) -> Self:
        polygon_from_geojson(self.geometry.model_dump(exclude_none=True))
        return self


Area = Annotated[CircleArea | PolygonArea, Field(discriminator="type")]

Areas = Annotated[
    list[Area],
    Field(min_length=1, max_length=MAX_AREAS, description="Targeted together, as a union"),
]


def areas_json(areas: list[CircleArea | PolygonArea]) -> list[dict[str, Any]]:
    return [area.model_dump(mode="json", exclude_none=True) for area in areas]
