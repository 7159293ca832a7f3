"""Scenario sections shared by every tier: EV stock, distances, solver, which tiers run."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DistanceParams", "EVParams", "SolverParams", "TiersParams"]


class _Section(BaseModel):
    """Base of every scenario table: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _share(value: float, info) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{info.field_name} must be a share between 0 and 1, got {value}")
    return value


def _positive(value: float, info) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{info.field_name} must be > 0, got {value}")
    return value


# ---------------------------------------------------------------------------------- sections

class EVParams(_Section):
    """EV stock per county: households × car ownership × cars per car household × growth × EV share.

    ``EVs(county) = households_2020 × car_share × cars_per_car_household × car_growth × ev_share_of_cars``

    where ``car_share`` = long-form households owning a car / long-form households
    (2020 census, per county) and the other factors are the scenario's assumptions for
    ``year``. ``evs_by_county`` replaces the estimate for the counties it names (adcode ->
    EVs), e.g. with registered vehicle counts from the traffic police.
    """

    year: int = 2025
    cars_per_car_household: float = 1.0
    car_growth: float = 1.3
    ev_share_of_cars: float = 0.08
    evs_by_county: dict[str, float] = Field(default_factory=dict)

    _pos = field_validator("cars_per_car_household", "car_growth")(_positive)
    _sh = field_validator("ev_share_of_cars")(_share)

    @field_validator("year")
    @classmethod
    def _year(cls, v: int) -> int:
        if not 2020 <= v <= 2060:
            raise ValueError(f"year must be between 2020 and 2060, got {v}")
        return v

    @field_validator("evs_by_county")
    @classmethod
    def _evs(cls, v: dict[str, float]) -> dict[str, float]:
        for code, n in v.items():
            if not (len(code) == 6 and code.isdigit()):
                raise ValueError(f"evs_by_county key {code!r} is not a 6-digit county adcode")
            if not (math.isfinite(n) and n >= 0):
                raise ValueError(f"evs_by_county[{code}] must be >= 0, got {n}")
        return v


class DistanceParams(_Section):
    """How demand-to-site costs are measured."""

    mode: Literal["screening", "network"] = "screening"
    circuity: float = 1.4
    snap_max_m: float = 2_000.0

    @field_validator("circuity")
    @classmethod
    def _circ(cls, v: float) -> float:
        if not (math.isfinite(v) and v >= 1.0):
            raise ValueError(f"circuity must be >= 1 (road distance / straight line), got {v}")
        return v

    _pos = field_validator("snap_max_m")(_positive)


class SolverParams(_Section):
    """HiGHS settings shared by every model of a run."""

    time_limit_s: float = 60.0
    mip_rel_gap: float = 0.001
    threads: int = 2

    _pos = field_validator("time_limit_s")(_positive)
    _sh = field_validator("mip_rel_gap")(_share)

    @field_validator("threads")
    @classmethod
    def _threads(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"threads must be >= 1, got {v}")
        return v


class TiersParams(_Section):
    """Which tiers a plan runs (a tier without its inputs is skipped with a notice)."""

    public: bool = True
    highway: bool = True
    swap: bool = True
    hydrogen: bool = True


