"""Reach preview bodies: the radii or areas to count, and the counts."""

from datetime import datetime
from typing import Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from alerts.fields import Latitude, Longitude, RadiusKm, Request, WindowHours
from alerts.notices.areas import POLYGON_AREA_EXAMPLE, Area, Areas, areas_json
from geo.regions import area_m2
from geo.sphere import circle_area_m2
from kit.config import get_settings
from kit.models import (
    CapStatus,
)

_TOO_SMALL = (
    "a preview of less than {minimum} km2 could tell whether one particular phone is there; "
    "no alert is that small"
)


class ReachQuery(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"lat": 51.5007, "lon": -0.1246, "radii_km": [1, 5, 20]},
                {"areas": [POLYGON_AREA_EXAMPLE]},
            ]
        }
    )

    lat: Latitude | None = None
    lon: Longitude | None = None
    radii_km: list[RadiusKm] | None = Field(None, min_length=1, max_length=20)
    areas: Areas | None = Field(None, description="Or count the union of these areas")
    location_window_hours: WindowHours | None = Field(None, description="Default 72 h")
    cap_status: CapStatus = Field(
        CapStatus.ACTUAL, description="Test and Exercise count only test devices"
    )

    @field_validator("radii_km")
    @classmethod
    def _radii_large_enough(cls, radii: list[float] | None) -> list[float] | None:
        minimum = get_settings().reach_min_area_km2
        if radii is not None and min(circle_area_m2(r * 1000.0) for r in radii) / 1e6 < minimum:
            raise ValueError(_TOO_SMALL.format(minimum=minimum))
        return radii

    @field_validator("areas")
    @classmethod
    def _areas_large_enough(cls, areas: list[Area] | None) -> list[Area] | None:
        minimum = get_settings().reach_min_area_km2
        if areas is not None and sum(map(area_m2, areas_json(areas))) / 1e6 < minimum:
            raise ValueError(_TOO_SMALL.format(minimum=minimum))
        return areas

    @field_validator("location_window_hours")
    @classmethod
    def _window_long_enough(cls, hours: float | None) -> float | None:
        minimum = get_settings().reach_min_window_hours
        if hours is not None and hours < minimum:
            raise ValueError(
                f"a location window under {minimum} h singles out the phones that just "
                "reported; no alert uses one"
            )
        return hours

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        circles = (self.lat, self.lon, self.radii_km)
        if self.areas is None and None in circles:
            raise ValueError("give lat, lon and radii_km, or areas")
        if self.areas is not None and any(v is not None for v in circles):
            raise ValueError("give lat, lon and radii_km, or areas, not both")
        return self


class Reach(BaseModel):
    radius_km: float | None = Field(description="None for the union of the query's areas")
    devices: int | None = Field(
        description="Devices reached; null when fewer than `fewer_than` would be"
    )
    fewer_than: int | None = Field(
        None,
        description="Set (to HEXCAST_REACH_MIN_DEVICES_SHOWN) when fewer devices than this "
        "would be reached: small counts are not shown, so that previews cannot locate a phone",
    )
    tallied_at: datetime | None = Field(
        None,
        description="Set for large areas: the devices well inside the area were counted "
        "from the device tally taken at this time (at most a few minutes old), the window's "
        "first hour pro rata; those near its edge were counted now, one by one. Null: every "
        "device was counted now, exactly as a broadcast would select them.",
    )


class ReachPreview(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reach": [
                        {"radius_km": 1, "devices": None, "fewer_than": 10},
                        {"radius_km": 5, "devices": 5120},
                        {"radius_km": 20, "devices": 48210},
                    ],
                    "located_since": "2026-11-20T08:30:00Z",
                }
            ]
        }
    )

    reach: list[Reach]
    located_since: datetime
