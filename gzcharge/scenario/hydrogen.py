"""``[hydrogen]``: hydrogen refuelling tier parameters (truck share, range, phases, supply rule)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gzcharge.scenario.common import within

__all__ = ["HydrogenPhase", "HydrogenParams"]


class HydrogenPhase(BaseModel):
    """One stage of the build-out.

    Attributes
    ----------
    name
        Label (e.g. ``"2026–2028"``).
    year
        Phase year for a ``phase_year`` column (optional).
    stations, budget_cny
        New stations / CNY allowed in this phase (max refuelled flow); neither = min cost.
    target_share
        Min-cost phases: share of the flow refuellable within the phase's scope to refuel.
    top_corridors
        Only sites on the ``k`` highest-flow corridors (``None`` = all corridors).
    source_radius_km
        Only sites within this supply distance of a source (``None`` = supply rule only).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str
    year: int | None = None
    stations: int | None = Field(default=None, ge=0)
    budget_cny: float | None = Field(default=None, ge=0)
    target_share: float = Field(default=1.0, ge=0, le=1)
    top_corridors: int | None = Field(default=None, ge=1)
    source_radius_km: float | None = Field(default=None, gt=0)


def _default_phases() -> list[HydrogenPhase]:
    return [
        HydrogenPhase(name="phase 1: busiest corridor", top_corridors=1),
        HydrogenPhase(name="phase 2: network"),
    ]


class HydrogenParams(BaseModel):
    """Parameters of the hydrogen tier (``[hydrogen]``; unknown keys rejected).

    Defaults and their basis (scenario assumptions): fuel-cell heavy trucks carry 30–50 kg
    of hydrogen for 400–600 km (``range_km = 500``), use ~8 kg/100 km; the derating
    ``range_reserve_share = 0.1`` keeps a reserve for mountain grades. Stations of
    500/1,000/2,000 kg/day cost roughly 12/15/25 M CNY (equipment + works, no land) in
    Chinese demonstration-city tenders; tube-trailer delivery is economic within ~100–200 km of
    a source (``max_supply_km = 150``). ``truck_share`` (medium/heavy trucks among expressway
    vehicles; assumption 0.25, range 0.2–0.3 on Guizhou freight corridors). ``hydrogen_share``
    (fuel-cell share of those trucks in the plan year): 0.005, range 0.001–0.01 — the national
    target was about 50,000 fuel-cell vehicles by 2025 (《氢能产业发展中长期规划(2021-2035年)》,
    NDRC/NEA 2022: 到2025年燃料电池车辆保有量约5万辆), at most ~0.5 % of China's roughly ten million
    medium and heavy trucks; Guizhou's own fleet in 2025 is about a hundred hydrogen trucks in
    六盘水, so 0.5 % in 2030 is already an ambitious scenario (the earlier 0.05 was ten times that).

    Attributes
    ----------
    truck_share, hydrogen_share
        Applied to a ``flow`` column (vehicles/day) when ``truck_flow`` is not given.
    range_km, range_reserve_share
        Truck range and the reserve kept; effective range ``R = range_km × (1 − reserve)``.
    kg_per_100km
        Hydrogen use of a truck.
    station_sizes_kg_day, station_costs_cny
        Standard station sizes and their costs (same length, sizes increasing).
    utilisation_target
        Design utilisation of a station's daily capacity.
    supply_rule, max_supply_km, delivery_cny_per_km, circuity
        The supply rule (see the module docstring).
    phases
        The staged build-out (default: busiest corridor, then the network).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    truck_share: float = Field(default=0.25, ge=0, le=1)
    hydrogen_share: float = Field(default=0.005, ge=0, le=1)
    range_km: float = Field(default=500.0, gt=0)
    range_reserve_share: float = Field(default=0.1, ge=0, lt=1)
    kg_per_100km: float = Field(default=8.0, gt=0)
    station_sizes_kg_day: list[float] = Field(default_factory=lambda: [500.0, 1000.0, 2000.0])
    station_costs_cny: list[float] = Field(default_factory=lambda: [12e6, 15e6, 25e6])
    utilisation_target: float = Field(default=0.8, gt=0, le=1)
    supply_rule: Literal["radius", "delivery_cost"] = "radius"
    max_supply_km: float = Field(default=150.0, gt=0)
    delivery_cny_per_km: float = Field(default=20_000.0, ge=0)
    circuity: float = Field(default=1.4, ge=1)
    phases: list[HydrogenPhase] = Field(default_factory=_default_phases)

    # sanity ranges (not defaults)
    _r_kg = field_validator("kg_per_100km")(within(0, 1_000, lo_open=True, unit="kg/100 km"))
    _r_sup = field_validator("max_supply_km")(within(0, 5_000, lo_open=True, unit="km"))
    _r_del = field_validator("delivery_cny_per_km")(within(0, 1e8, unit="CNY/km"))
    _r_circ = field_validator("circuity")(within(1, 10))

    @field_validator("range_km")
    @classmethod
    def _range(cls, v: float) -> float:
        if not 100 <= v <= 1500:
            raise ValueError(f"range_km {v} is not a truck range (100–1500 km; fuel-cell trucks: 400–600)")
        return v

    @model_validator(mode="after")
    def _sizes(self) -> HydrogenParams:
        s, c = self.station_sizes_kg_day, self.station_costs_cny
        if not s or len(s) != len(c):
            raise ValueError("station_sizes_kg_day and station_costs_cny need the same, non-zero length")
        if any(b <= a for a, b in zip(s[:-1], s[1:], strict=True)) or s[0] <= 0:
            raise ValueError(f"station_sizes_kg_day must be positive and increasing, got {s}")
        if any(x < 0 for x in c):
            raise ValueError("station_costs_cny must be >= 0")
        if not self.phases:
            raise ValueError("phases must hold at least one phase")
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names must be unique, got {names}")
        return self

    @property
    def effective_range_km(self) -> float:
        """Range used by the model: ``range_km × (1 − range_reserve_share)``."""
        return self.range_km * (1.0 - self.range_reserve_share)


