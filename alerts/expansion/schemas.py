"""Expansion schedules: the steps by which an active notice's circle widens with time."""

import uuid
from datetime import datetime
from typing import Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from alerts.fields import RadiusKm, Request

MAX_EXPANSION_STEPS = 20

MAX_EXPANSION_MINUTES = 30 * 24 * 60


class ExpansionStepIn(Request):
    after_minutes: float = Field(gt=0, le=MAX_EXPANSION_MINUTES, description="Past approval")
    radius_km: RadiusKm


class ExpansionSchedule(Request):
    """Replaces the steps not applied yet. Steps widen the circle: later steps have larger
    radii."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "steps": [
                        {"after_minutes": 120, "radius_km": 20},
                        {"after_minutes": 360, "radius_km": 50},
                    ]
                }
            ]
        }
    )

    steps: list[ExpansionStepIn] = Field(max_length=MAX_EXPANSION_STEPS)

    @model_validator(mode="after")
    def _widening(self) -> Self:
        for earlier, later in zip(self.steps, self.steps[1:], strict=False):
            if later.after_minutes <= earlier.after_minutes:
                raise ValueError("steps must be in order of after_minutes, without repeats")
            if later.radius_km <= earlier.radius_km:
                raise ValueError("each step must have a larger radius than the one before")
        return self


class ExpansionStepOut(BaseModel):
    after_minutes: float
    radius_km: float
    due_at: datetime | None = Field(description="None until the notice is approved")
    applied_at: datetime | None


class ExpansionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "notice_id": "6f1c2a0e-5b7d-4c1e-9a43-1b2f3c4d5e6f",
                    "radius_km": 5,
                    "steps": [
                        {
                            "after_minutes": 120,
                            "radius_km": 20,
                            "due_at": "2026-11-23T10:30:00Z",
                            "applied_at": None,
                        }
                    ],
                }
            ]
        }
    )

    notice_id: uuid.UUID
    radius_km: float
    steps: list[ExpansionStepOut]
