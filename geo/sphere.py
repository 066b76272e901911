"""Great-circle geometry on the sphere H3 uses, so distances agree with the cover's."""

import math

import h3

# h3's EARTH_RADIUS_KM, so `destination` inverts `distance_m` exactly.
EARTH_RADIUS_M = 6_371_007.180918475


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points."""
    return float(h3.great_circle_distance(a, b, unit="m"))


def destination(lat: float, lon: float, distance: float, bearing_deg: float) -> tuple[float, float]:
    """The (lat, lon) reached by going `distance` metres from (lat, lon) on a bearing."""
    angular = distance / EARTH_RADIUS_M
    phi1, lam1, theta = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    phi2 = math.asin(
        math.sin(phi1) * math.cos(angular) + math.cos(phi1) * math.sin(angular) * math.cos(theta)
    )
    lam2 = lam1 + math.atan2(
        math.sin(theta) * math.sin(angular) * math.cos(phi1),
        math.cos(angular) - math.sin(phi1) * math.sin(phi2),
    )
    return math.degrees(phi2), (math.degrees(lam2) + 540.0) % 360.0 - 180.0
