"""``[swap]``: battery-swap tier parameters (fleet types, station types, costs, mode)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gzcharge.scenario.common import within

__all__ = ["FleetTypeParams", "StationTypeParams", "SwapParams"]


class FleetTypeParams(BaseModel):
    """Assumptions for one fleet type (all scenario placeholders; set them from local data).

    Attributes
    ----------
    label
        Chinese name for layers and reports.
    per_10k_urban
        Vehicles of this type per 10,000 urban residents (2020 census ``pop_urban``), used
        only when no fleet file is given.
    swaps_per_vehicle_day
        Battery swaps per vehicle and day.
    electrified_share
        Share of the fleet electric by the plan year (default fleets only).
    swap_share
        Share of the electric fleet that swaps batteries rather than plugging in (default
        fleets only).
    service_km
        Longest one-way road distance from a demand point to its swap station.
    station_type
        Key into :attr:`SwapParams.station_types`.
    prefectures
        Default fleets only: the prefectures (adcodes) that have this fleet type (empty = all).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    label: str
    per_10k_urban: float = Field(ge=0)
    swaps_per_vehicle_day: float = Field(gt=0)
    electrified_share: float = Field(ge=0, le=1)
    swap_share: float = Field(ge=0, le=1)
    service_km: float = Field(gt=0)
    station_type: str
    prefectures: list[str] = Field(default_factory=list)


class StationTypeParams(BaseModel):
    """One kind of swap station.

    Attributes
    ----------
    capacity_swaps_day
        Swaps one station can do per day.
    battery_stock
        Battery packs one station is built with (included in ``cost_cny``).
    cost_cny
        Cost of one station including its standard stock (CNY).
    max_per_site
        Most stations of this type at one site.
    battery_turns_per_day
        Times a day one pack is charged and swapped out. With the reserve share of
        :class:`SwapParams` a site serving ``s`` swaps/day needs
        ``ceil(s × (1 + battery_reserve_share) / battery_turns_per_day)`` packs.
    pack_cost_cny
        Cost of one battery pack beyond the ``battery_stock`` included in ``cost_cny`` (CNY);
        the model buys the packs a site needs above its stations' stock (no default: a custom
        station type states it).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    capacity_swaps_day: float = Field(gt=0)
    battery_stock: int = Field(ge=0)
    cost_cny: float = Field(ge=0)
    max_per_site: int = Field(default=2, ge=1)
    battery_turns_per_day: float = Field(gt=0)
    pack_cost_cny: float = Field(ge=0)


def _default_fleet_types() -> dict[str, FleetTypeParams]:
    # Basis (orders of magnitude, stated as assumptions, not data):
    # * taxi: China had ~1.39 M cruising taxis (2020, MOT statistical bulletin) for ~900 M
    #   urban residents (~15 per 10k) plus ride-hailing cars in daily service; 25 per 10k
    #   urban residents together. A taxi runs 300-400 km/day on a ~250 km pack: 1.5 swaps.
    # * bus: ~700k urban buses (MOT 2020) -> ~8 per 10k urban residents; Guizhou's cities are
    #   smaller: 6. Most e-buses charge at depots, a minority swap (10 %), about once a day.
    # * logistics: light urban delivery vans, ~15 per 10k; 1 swap/day; 30 % electric.
    # * sanitation: ~300k sanitation vehicles nationwide -> ~3 per 10k urban residents.
    # * mine_truck: coal / aggregate short-haul trucks, only in the coal prefectures 六盘水, 毕节 and
    #   黔西南 (Guizhou's coal output comes mostly from these three); 2 per 10k urban residents is a
    #   placeholder (range 1-10) — give a fleet file with depots for real work. Heavy trucks in China
    #   electrify mostly through swapping; 3-5 swaps a day on short-haul shuttles.
    return {
        "taxi": FleetTypeParams(label="出租车/网约车", per_10k_urban=25.0, swaps_per_vehicle_day=1.5,
                                electrified_share=0.5, swap_share=0.3, service_km=5.0, station_type="car"),
        "bus": FleetTypeParams(label="公交车", per_10k_urban=6.0, swaps_per_vehicle_day=1.0,
                               electrified_share=0.8, swap_share=0.1, service_km=3.0, station_type="bus"),
        "logistics": FleetTypeParams(label="城市物流车", per_10k_urban=15.0, swaps_per_vehicle_day=1.0,
                                     electrified_share=0.3, swap_share=0.2, service_km=8.0, station_type="car"),
        "sanitation": FleetTypeParams(label="环卫车", per_10k_urban=3.0, swaps_per_vehicle_day=1.0,
                                      electrified_share=0.5, swap_share=0.3, service_km=5.0,
                                      station_type="heavy_truck"),
        "mine_truck": FleetTypeParams(label="矿卡/短倒重卡", per_10k_urban=2.0, swaps_per_vehicle_day=3.0,
                                      electrified_share=0.1, swap_share=0.6, service_km=15.0,
                                      station_type="heavy_truck", prefectures=["520200", "520500", "522300"]),
    }


def _default_station_types() -> dict[str, StationTypeParams]:
    # car: passenger-car swap stations do ~300-1,000 swaps/day (a few minutes per swap, one
    #   lane); 500/day with a stock of 20 packs and ~3 M CNY is a mid-range planning value.
    # bus: a bus swap lane does ~200/day; heavy_truck: 5-10 min per swap and large packs,
    #   ~150/day, stations ~6 M CNY with ~7 packs. Placeholders: use the operator's quotes.
    # pack_cost_cny (assumption, with range): pack energy × price. Price: BloombergNEF's Lithium-Ion
    #   Battery Price Survey (10 Dec 2024) puts China's average pack price at US$94/kWh, ~680 CNY/kWh
    #   at 7.2 CNY/USD. Energies are assumptions: car 60 kWh (range 40-100 kWh) -> 41 k CNY (27-68 k);
    #   bus 140 kWh (100-200) -> 95 k CNY (68-136 k); heavy truck 282 kWh, the common heavy-truck swap
    #   pack (range 171-350) -> 192 k CNY (116-238 k). Swap-standard housings and connectors cost
    #   extra: the ranges' upper halves are the safer planning values where quotes are missing.
    return {
        "car": StationTypeParams(capacity_swaps_day=500, battery_stock=20, cost_cny=3_000_000,
                                 max_per_site=2, battery_turns_per_day=8, pack_cost_cny=41_000),
        "bus": StationTypeParams(capacity_swaps_day=200, battery_stock=12, cost_cny=4_000_000,
                                 max_per_site=2, battery_turns_per_day=6, pack_cost_cny=95_000),
        "heavy_truck": StationTypeParams(capacity_swaps_day=150, battery_stock=7, cost_cny=6_000_000,
                                         max_per_site=2, battery_turns_per_day=6, pack_cost_cny=192_000),
    }


class SwapParams(BaseModel):
    """Parameters of the battery-swap tier (``[swap]`` in a scenario; unknown keys rejected).

    Attributes
    ----------
    fleets
        Fleet types (keys ``taxi, bus, logistics, sanitation, mine_truck`` by default).
    station_types
        Station types (keys ``car, bus, heavy_truck`` by default).
    mode
        ``"min_cost"``: serve every swap at least cost; ``"max_served"``: most swaps/day
        under ``budget_cny``.
    budget_cny
        Budget for stations and extra battery packs: ``max_served`` serves the most swaps
        within it (required there); ``min_cost`` raises :class:`InfeasibleError` when
        serving every swap costs more.
    deadhead_cny_per_km
        Cost of one vehicle-km driven to reach a station (energy, wear, driver time).
    horizon_days
        Days over which access cost is counted against station cost.
    battery_reserve_share
        Packs held beyond the turnover need (charging, faults): a site serving ``s`` swaps/day
        needs ``s × (1 + share) / battery_turns_per_day`` packs.
    urban_density_per_km2
        Urban residents per km² of built-up area, to spread county fleets over a disc.
    urban_points
        Demand points a county fleet is spread over when its urban disc is larger than the
        service distance (1 centre + ring points).
    circuity
        Road distance / straight line for screening distances.
    min_utilisation
        Utilisation floor of a swap station (swaps served / capacity, 0-1): a fleet is planned for
        swapping only where the swaps within its service distance of one candidate site fill at
        least this share of one station of its type; smaller fleets are left to depot / public
        charging (listed in a note). Assumption: 0.2 (range 0.1-0.4) — a car station of 500
        swaps/day needs ~100 a day; operators' break-even figures for passenger-car swap stations are
        in the low hundreds of swaps a day.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    fleets: dict[str, FleetTypeParams] = Field(default_factory=_default_fleet_types)
    station_types: dict[str, StationTypeParams] = Field(default_factory=_default_station_types)
    mode: Literal["min_cost", "max_served"] = "min_cost"
    budget_cny: float | None = Field(default=None, ge=0)
    deadhead_cny_per_km: float = Field(default=0.5, ge=0)
    horizon_days: float = Field(default=365.0, ge=0)
    battery_reserve_share: float = Field(default=0.2, ge=0)
    urban_density_per_km2: float = Field(default=10_000.0, gt=0)
    urban_points: int = Field(default=7, ge=1)
    circuity: float = Field(default=1.4, ge=1)
    min_utilisation: float = Field(default=0.2, ge=0, le=1)

    # sanity ranges (not defaults)
    _r_cny = field_validator("budget_cny")(within(0, 1e12, unit="CNY"))
    _r_dh = field_validator("deadhead_cny_per_km")(within(0, 10_000, unit="CNY/km"))
    _r_days = field_validator("horizon_days")(within(0, 36_500, unit="days"))
    _r_res = field_validator("battery_reserve_share")(within(0, 10))
    _r_dens = field_validator("urban_density_per_km2")(within(0, 1e6, unit="per km²"))
    _r_circ = field_validator("circuity")(within(1, 10))

    @field_validator("urban_points")
    @classmethod
    def _points(cls, v: int) -> int:
        if v not in (1, 7, 13, 19):
            raise ValueError(f"urban_points must be 1, 7, 13 or 19 (centre + rings of 6), got {v}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> SwapParams:
        bad = {k: f.station_type for k, f in self.fleets.items() if f.station_type not in self.station_types}
        if bad:
            raise ValueError(
                f"fleet type(s) name unknown station types {bad}; known station types: {sorted(self.station_types)}"
            )
        if self.mode == "max_served" and self.budget_cny is None:
            raise ValueError("mode 'max_served' needs budget_cny (CNY available for swap stations)")
        return self

    @property
    def access_cny_per_swap_km(self) -> float:
        """``a``: CNY over the horizon for one swap/day whose station is 1 km away (one way)."""
        return 2.0 * self.deadhead_cny_per_km * self.horizon_days


