"""``[public]``: the public charging tier (市、县、乡三级) — radii, targets, budget, sizing, costs."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gzcharge.scenario.common import _positive, _Section, _share, within

__all__ = ["RADIUS_KEYS", "CandidateCosts", "PublicParams"]

#: demand tier -> (km radius key, minutes radius key) of ``[public]``
RADIUS_KEYS: dict[str, tuple[str, str]] = {
    "city": ("city_core_radius_km", "city_core_radius_min"),
    "county": ("county_seat_radius_km", "county_seat_radius_min"),
    "township": ("township_radius_km", "township_radius_min"),
}


class CandidateCosts(_Section):
    """Build cost per candidate type (CNY per station, site works + grid connection + 2 plugs).

    Existing stations cost 0 (they are already built).
    """

    settlement: float = 600_000.0
    fuel_station: float = 400_000.0
    parking: float = 500_000.0
    grid: float = 800_000.0
    urban_grid: float = 700_000.0

    _r_cost = field_validator("*")(within(0, 1e10, unit="CNY"))

    @field_validator("*")
    @classmethod
    def _nonneg(cls, v: float, info) -> float:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{info.field_name} cost must be >= 0 CNY, got {v}")
        return v


class PublicParams(_Section):
    """Public charging tier (市、县、乡三级): targets, budget, demand estimate, sizing, candidates."""

    mode: Literal["min_cost", "max_cover"] = "min_cost"
    # service radius per tier
    city_core_radius_km: float = 1.0
    county_seat_radius_km: float = 3.0
    township_radius_km: float = 10.0
    # optional travel-time radii (minutes of driving on the road graph, network mode only); a
    # tier with ``X_radius_min`` set uses it instead of ``X_radius_km`` (setting both is an error)
    city_core_radius_min: float | None = None
    county_seat_radius_min: float | None = None
    township_radius_min: float | None = None
    # hard policy targets
    township_full_coverage: bool = True
    township_own_charger: bool = True
    # prefecture adcode -> the county-level districts forming its city core (default: see default.toml)
    city_core_counties: dict[str, list[str]] = Field(default_factory=lambda: {
        "520100": ["520102", "520103", "520111", "520112", "520113", "520115"],
        "520200": ["520201", "520204"],
        "520300": ["520302", "520303"],
    })
    min_county_coverage: float = 0.95
    evs_per_station: float = 500.0
    # budget (max_cover; in min_cost a budget the targets cannot fit raises InfeasibleError)
    budget_cny: float | None = None
    max_stations: int | None = None
    fallback_max_cover: bool = False
    # demand estimate
    urban_residents_per_km2: float = 10_000.0
    county_seat_share_of_urban: float = 0.7
    lattice_spacing_factor: float = 0.5
    estimated_township_spacing_km: float = 12.0
    # station sizing
    kwh_per_ev_day: float = 6.8
    public_charging_share: float = 0.5
    plug_kw: float = 46.5
    hours_per_day: float = 24.0
    utilisation_target: float = 0.06
    min_plugs: int = 2
    existing_plugs_unknown: int = 8
    cost_per_extra_plug_cny: float = 46_500.0
    # candidates
    grid_spacing_km: float = 5.0
    urban_grid_spacing_km: float = 0.7
    large_parking_min_capacity: int = 50
    candidate_cost_cny: CandidateCosts = Field(default_factory=CandidateCosts)

    _pos = field_validator(
        "city_core_radius_km",
        "county_seat_radius_km",
        "township_radius_km",
        "evs_per_station",
        "urban_residents_per_km2",
        "lattice_spacing_factor",
        "estimated_township_spacing_km",
        "kwh_per_ev_day",
        "plug_kw",
        "grid_spacing_km",
        "urban_grid_spacing_km",
    )(_positive)
    _sh = field_validator(
        "min_county_coverage", "county_seat_share_of_urban", "public_charging_share", "utilisation_target"
    )(_share)
    # sanity ranges (not defaults): Guizhou is ~600 km across; no site needs more than 1,000 plugs
    _r_km = field_validator("city_core_radius_km", "county_seat_radius_km", "township_radius_km",
                            "estimated_township_spacing_km", "grid_spacing_km", "urban_grid_spacing_km",
                            )(within(0, 1_000, lo_open=True, unit="km"))
    # sanity range (not a default): 1,000 min is ~17 h of driving, far beyond any service radius
    _r_min = field_validator("city_core_radius_min", "county_seat_radius_min", "township_radius_min",
                             )(within(0, 1_000, lo_open=True, unit="min"))
    _r_ev = field_validator("evs_per_station")(within(0, 1e6, lo_open=True, unit="EVs"))
    _r_dens = field_validator("urban_residents_per_km2")(within(0, 1e6, lo_open=True, unit="residents/km²"))
    _r_lat = field_validator("lattice_spacing_factor")(within(0, 10, lo_open=True))
    _r_kwh = field_validator("kwh_per_ev_day")(within(0, 500, lo_open=True, unit="kWh"))
    _r_kw = field_validator("plug_kw")(within(0, 2_000, lo_open=True, unit="kW"))
    _r_plugs = field_validator("min_plugs")(within(1, 1_000))
    _r_exu = field_validator("existing_plugs_unknown")(within(1, 1_000))
    _r_cny = field_validator("cost_per_extra_plug_cny", "budget_cny")(within(0, 1e12, unit="CNY"))
    _r_park = field_validator("large_parking_min_capacity")(within(0, 100_000, unit="spaces"))
    _r_maxst = field_validator("max_stations")(within(1, 1_000_000))

    @field_validator("hours_per_day")
    @classmethod
    def _hours(cls, v: float) -> float:
        if not 0 < v <= 24:
            raise ValueError(f"hours_per_day must be in (0, 24], got {v}")
        return v

    @field_validator("utilisation_target")
    @classmethod
    def _util(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"utilisation_target must be > 0, got {v}")
        return v

    @field_validator("min_plugs")
    @classmethod
    def _plugs(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"min_plugs must be >= 1, got {v}")
        return v

    @field_validator("budget_cny", "cost_per_extra_plug_cny", "large_parking_min_capacity")
    @classmethod
    def _nonneg(cls, v: float | None, info) -> float | None:
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{info.field_name} must be >= 0, got {v}")
        return v

    @field_validator("max_stations")
    @classmethod
    def _maxst(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError(f"max_stations must be >= 1, got {v}")
        return v

    @model_validator(mode="after")
    def _one_radius_unit(self) -> PublicParams:
        for tier, (km, mins) in RADIUS_KEYS.items():
            if getattr(self, mins) is not None and km in self.model_fields_set:
                raise ValueError(f"public.{km} and public.{mins} are both set for the {tier} radius; "
                                 f"keep one (km: straight-line/road distance, min: driving time on the road graph)")
        return self

    def radius_min(self, tier: str) -> float | None:
        """Travel-time radius in minutes of a demand tier, or ``None`` where the km radius applies."""
        return getattr(self, RADIUS_KEYS[tier][1])

    def minute_radius_keys(self) -> dict[str, float]:
        """``{"public.X_radius_min": minutes}`` of the tiers whose radius is a driving time."""
        return {f"public.{mins}": v for _km, mins in RADIUS_KEYS.values() if (v := getattr(self, mins)) is not None}

    def radius_m(self, tier: str) -> float:
        """Service radius in metres of a demand tier (``city``, ``county`` or ``township``)."""
        km = {
            "city": self.city_core_radius_km,
            "county": self.county_seat_radius_km,
            "township": self.township_radius_km,
        }[tier]
        return km * 1000.0


