"""Scenario parameters of the highway fast-charging tier (``[highway]`` in a scenario file).

Every number here is an *assumption of the scenario*, not a fact of the data: planners are
expected to set them (``--set highway.range_km=300``). The defaults and their basis:

* ``range_km = 250`` km nominal EV range on a full charge, ``range_derate = 0.8``: the
  *effective* range the model uses is ``range_km * range_derate`` (200 km by default). The
  derating covers Guizhou's mountain gradients and winter (heating, cold batteries) and the
  habit of not running the battery to empty; it is a planning margin, not a measured value.
* ``max_gap_km = 50``: the longest stretch of a corridor without a fast-charging site. The
  basis is the Chinese expressway service-area spacing guidance (JTG B01-2014 《公路工程技术
  标准》 and the route-design code JTG D20-2017 put the average spacing of service areas at
  about 50 km), i.e. "a charger at every service area" gives roughly this spacing.
* ``gravity_beta = 1.5``: distance-decay exponent of the gravity model ``w_i w_j / d^beta``
  (the value used for the 25-node reference network of Simchi-Levi & Berman and in
  Kuby & Lim's flow-refuelling studies); 2 is the classical Newtonian choice.
* ``peak_hour_factor = 0.1``: share of daily traffic in the design (peak) hour — the
  "K factor" of highway capacity practice (typically 0.08–0.12 on inter-urban roads).
* ``session_min = 30``, ``plug_kw = 120``, ``wait_target_min = 10``: one DC fast-charging
  session, the power of one plug and the mean waiting-time target for M/M/c sizing.
* ``ev_share = 0.10`` (assumption, plausible 0.05–0.25): the share of expressway vehicles that are
  electric. Nationally, 交通运输部 counted new-energy vehicles at 14.4 % of the expressway
  flow on the 2024 Dragon-Boat holiday and forecast 21 % (8.3 M of 40.7 M a day) for 2025;
  Guizhou's fleet is less electric (165 k NEVs at end 2022, target 700 k by 2026, of a fleet
  of several million), so 10 % is a mid value for the 2026–2030 horizon.
* ``gravity_trips_per_1000_pop = 10`` inter-county expressway trips per 1,000 residents a day
  (assumption, plausible 5–25). Upper bound: Guizhou's expressway exit flow, every trip counted
  once, was 1.55 M vehicles/day in the 2019 Spring-Festival week and 1.61 M in the 2021
  National-Day week (贵州省交通运输厅), i.e. ~40 per 1,000 residents on holidays and roughly
  20–28 on an average day, of which the inter-county part is a fraction (trips under half
  the effective range are dropped as needing no charging anyway).
* **2022 national action plan** (交通运输部、国家能源局、国家电网、南方电网《加快推进公路沿线
  充电基础设施建设行动方案》, August 2022): every expressway service area provides basic
  charging (by end 2022 outside cold/high-altitude regions) and "每个高速公路服务区建设的充电
  基础设施或预留建设安装条件的车位原则上不低于小型客车停车位的10%" — ``all_service_areas = True``
  opens every service area given (``--service-areas``) and ``charging_space_share = 0.10`` ×
  ``service_area_car_spaces`` sets their fewest plugs. ``service_area_car_spaces = 100`` small-car
  spaces per service-area site (both sides): an *assumption*, plausible 50–300 (parking areas
  停车区 are smaller, large service areas larger); set it per project.
* ``holiday_peak_factor = 2.0`` (assumption, plausible 1.5–3.0): charging sessions of the design
  day (a holiday peak day, when expressways are toll-free) over the average day. Evidence:
  Hubei sized its 2025 National-Day expressway charging for ~60 % more energy than usual;
  国网天津 expected holiday expressway charging above 200 % of normal days (May Day 2023);
  expressway charging on the first two days of the 2024 National Day holiday was 56 % above the
  same days of 2023 (national, 国家电网智慧车联网平台).
* **Through traffic** at the province border (``gateway_daily_vehicles = 5,000`` vehicles/day per
  gateway, both directions, average day; assumption, plausible 2,000–15,000): in the 2021
  National-Day week 1.79 M vehicles entered Guizhou by expressway (≈ 255 k a day, holiday)
  through 17 expressway border toll stations (2019), i.e. ~15 k a day inbound per station on a
  holiday; the built-in skeleton's ~46 gateways also count national roads, so the average per
  gateway is lower. ``gateway_through_share = 0.3`` (assumption, 0.1–0.5) of a gateway's flow
  leaves at another gateway (transit: 入黔车辆以重庆、湖南方向为主, 出黔车辆以云南、四川居多),
  the rest goes to county seats by the gravity rule.
* **Road skeleton** (``road_skeleton = "auto"``): with no ``--expressways``, OSM file or road
  network, the corridors are the built-in OSM trunk-road skeleton (scgraph_data, ODbL; mixes
  expressways with national/provincial trunk roads, see :mod:`gzcharge.highway.skeleton`),
  service areas within ``skeleton_snap_m = 3,000`` m are attached (the skeleton is straight
  pieces between nodes rounded to 0.001°: 90 % of the Amap expressway service areas of Guizhou
  lie within 3.2 km of it, median 0.65 km) and points of one service area closer than
  ``service_area_pair_m = 1,000`` m (the two sides of a pair) are one site.
* The site costs are scenario placeholders: set them from the cost estimates of the project.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gzcharge.scenario.common import within

__all__ = ["HighwayParams"]


class HighwayParams(BaseModel):
    """Parameters of the highway fast-charging tier (validated; unknown keys rejected).

    Attributes
    ----------
    range_km
        Nominal EV range on a full charge (km).
    range_derate
        Factor in (0, 1] applied to ``range_km`` for mountains/winter; see
        :attr:`effective_range_km`.
    max_gap_km
        Maximum stretch of corridor without a site (km), counted in each direction and from
        each corridor end to its first site.
    enforce_gap
        Whether the gap rule is a hard constraint (where candidates make it possible).
    synthetic_spacing_km
        Spacing of synthetic candidates placed along stretches with no service area for
        more than ``max_gap_km``.
    gravity_beta
        Distance-decay exponent of the gravity model.
    gravity_daily_trips, gravity_trips_per_1000_pop
        Total daily OD trips of the gravity model: fixed (``gravity_daily_trips``) or, by default,
        5 intercity expressway trips per 1,000 residents of the OD points per day (about 190,000
        a day for the province; an assumption to replace with traffic counts), so that a pair's
        flow does not depend on how large an area is planned.
    min_charging_trip_km
        Trips whose round trip fits in one home charge (length ≤ half the effective range, by
        default) need no highway charging and are left out of the refuelling model.
        Total daily vehicle trips between all county-seat pairs on the expressways; the
        gravity values are scaled to sum to this.
    daily_trips_scale
        Multiplier applied to a user OD matrix (its flows are read as vehicles/day).
    ev_share
        Share of the vehicle flow that is electric.
    peak_hour_factor
        Share of the daily flow in the design hour.
    session_min
        Mean duration of one fast-charging session (min).
    plug_kw
        Power of one plug (kW).
    wait_target_min
        Mean waiting-time target for the Erlang-C sizing (min).
    min_plugs
        Minimum plugs at any open site.
    mode
        ``"max_flow"``: maximise refuelled flow with ``stations`` new sites and/or
        ``budget_cny``; ``"min_cost"``: cheapest sites meeting the gap rule and
        ``target_flow_share`` of the flow refuelled.
    stations
        Number of *new* sites to open in ``max_flow`` mode (existing sites come on top).
    budget_cny
        Budget for new sites in ``max_flow`` mode.
    target_flow_share
        Share of the total OD flow that must be refuelled in ``min_cost`` mode.
    cost_service_area_cny, cost_interchange_cny, cost_synthetic_cny
        Cost of opening a site by candidate type (existing sites cost 0).
    k_paths
        Most alternative routes per OD pair (1 = the shortest only). Routes are distinct simple
        corridor paths, shortest first.
    route_deviation_max
        Routes longer than this multiple of the pair's shortest trip (access legs included) are
        not used (a deviation tolerance as in Kim & Kuby 2012). Default 1.2: an *assumption*;
        plausible range 1.1–1.3 (drivers rarely accept more than 10–30 % of detour).
    route_logit_theta
        Logit split of a pair's flow over its routes: route ``r`` gets the share
        ``exp(−θ (L_r / L_min − 1)) / Σ_s exp(−θ (L_s / L_min − 1))`` (``L`` trip lengths).
        Default 10 (dimensionless): an *assumption* — a route 10 % longer draws ``e^{-1} ≈ 0.37``
        times the flow of the shortest; plausible range 5–20. Tied routes split equally.
    round_trip
        Vehicles must be able to make the return trip as well.
    candidate_snap_m
        Service areas/user sites farther than this from a corridor are rejected (reported).
    endpoint_snap_m
        Tolerance for merging line endpoints into one node when building corridors.
    carriageway_merge_m
        Distance within which the two carriageways of a motorway are merged.
    seat_access_max_km
        County seats farther than this from the nearest corridor node get no OD flow.
    interchange_town_km
        Interchanges within this distance of a settlement become candidates.
    interchange_merge_m
        Interchange nodes (ramp systems) closer than this along the corridor are merged into
        one interchange (OSM often maps one interchange as several ramp systems).
    all_service_areas, charging_space_share, service_area_car_spaces
        The 2022 action-plan rule: every service area opened, with at least
        ``ceil(charging_space_share × service_area_car_spaces)`` plugs.
    holiday_peak_factor
        Sessions of the design day over the average day (sizing).
    gateway_daily_vehicles, gateway_through_share, gateway_merge_km
        Through traffic at the province-border gateways of the road skeleton.
    road_skeleton, skeleton_merge_m, skeleton_snap_m, service_area_pair_m
        The built-in road skeleton as the offline default corridors.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    range_km: float = Field(250.0, gt=0, description="nominal EV range on a full charge (km)")
    range_derate: float = Field(0.8, gt=0, le=1, description="derating factor for mountains/winter")
    max_gap_km: float = Field(50.0, gt=0, description="max corridor stretch without a site (km)")
    enforce_gap: bool = True
    synthetic_spacing_km: float = Field(10.0, gt=0, description="spacing of synthetic candidates (km)")
    gravity_beta: float = Field(1.5, ge=0, le=4, description="gravity distance-decay exponent")
    gravity_daily_trips: float | None = Field(None, gt=0, description="total daily OD trips (vehicles); "
                                              "None = gravity_trips_per_1000_pop × population / 1000")
    gravity_trips_per_1000_pop: float = Field(10.0, gt=0, description="daily intercity expressway trips per 1,000 "
                                              "residents of the OD points (sets the total when gravity_daily_trips "
                                              "is None)")
    min_charging_trip_km: float | None = Field(None, ge=0, description="OD trips up to this length need no "
                                               "highway charging (None = half the effective range: the round "
                                               "trip fits one home charge)")
    daily_trips_scale: float = Field(1.0, gt=0, description="multiplier on user OD flows")
    ev_share: float = Field(0.10, ge=0, le=1, description="share of expressway traffic that is electric "
                            "(assumption 0.05-0.25; national holiday NEV share 14.4 % in 2024, 21 % in 2025)")
    peak_hour_factor: float = Field(0.1, gt=0, le=1, description="share of daily flow in the design hour")
    session_min: float = Field(30.0, gt=0, description="minutes per charging session")
    plug_kw: float = Field(120.0, gt=0, description="power per plug (kW)")
    wait_target_min: float = Field(10.0, gt=0, description="mean waiting-time target (min)")
    min_plugs: int = Field(2, ge=1)
    mode: Literal["max_flow", "min_cost"] = "max_flow"
    stations: int | None = Field(None, ge=0, description="new sites to open (max_flow)")
    budget_cny: float | None = Field(None, ge=0, description="budget for new sites (max_flow)")
    target_flow_share: float = Field(0.8, ge=0, le=1, description="refuelled share target (min_cost)")
    cost_service_area_cny: float = Field(2_000_000.0, ge=0)
    cost_interchange_cny: float = Field(3_000_000.0, ge=0)
    cost_synthetic_cny: float = Field(4_000_000.0, ge=0)
    k_paths: int = Field(1, ge=1, le=10)
    route_deviation_max: float = Field(1.2, ge=1.0, le=2.0, description="longest route used, as a multiple of "
                                       "the shortest trip (ratio; assumption, 1.1–1.3)")
    route_logit_theta: float = Field(10.0, ge=0, description="logit route-split parameter per unit of relative "
                                     "detour (dimensionless; assumption, 5–20)")
    round_trip: bool = True
    candidate_snap_m: float = Field(500.0, gt=0, description="service areas and planner sites farther than this "
                                    "from an expressway are not corridor sites (m; assumption 200-1,000: a service "
                                    "area's forecourt lies a few hundred metres from the carriageway)")
    endpoint_snap_m: float = Field(100.0, ge=0, le=1000)
    carriageway_merge_m: float = Field(100.0, ge=0, le=500)
    seat_access_max_km: float = Field(30.0, gt=0)
    interchange_town_km: float = Field(5.0, ge=0)
    interchange_merge_m: float = Field(1000.0, ge=0, le=5000)
    all_service_areas: bool = Field(True, description="every given service area gets chargers (2022 action plan)")
    charging_space_share: float = Field(0.10, ge=0, le=1, description="charging spaces per small-car space at a "
                                        "service area (2022 action plan: >= 10 %)")
    service_area_car_spaces: int = Field(100, ge=0, description="small-car spaces per service-area site "
                                         "(assumption 50-300)")
    holiday_peak_factor: float = Field(2.0, ge=1, description="design-day (holiday peak) sessions over the "
                                       "average day (assumption 1.5-3.0)")
    gateway_daily_vehicles: float = Field(5000.0, ge=0, description="through traffic per province-border "
                                          "gateway, vehicles/day both directions (assumption 2,000-15,000)")
    gateway_through_share: float = Field(0.3, ge=0, le=1, description="share of a gateway's flow leaving at "
                                         "another gateway (assumption 0.1-0.5)")
    gateway_merge_km: float = Field(10.0, ge=0, description="border crossings closer than this are one gateway")
    road_skeleton: Literal["auto", "off"] = Field("auto", description="'auto': the built-in OSM trunk-road "
                                                  "skeleton when no other expressway source is given")
    skeleton_merge_m: float = Field(500.0, ge=0, le=3000, description="node-merge radius of the skeleton (m)")
    skeleton_snap_m: float = Field(3000.0, gt=0, description="service areas and planner sites farther than this "
                                   "from the skeleton are rejected (m; assumption 1,000-5,000: the built-in skeleton "
                                   "is one simplified centre line per road)")
    service_area_pair_m: float = Field(1000.0, ge=0, description="service-area points closer than this are one "
                                       "site on the skeleton (the two sides of a pair)")

    # sanity ranges (not defaults): what the quantities can physically be
    _r_km = field_validator("range_km", "max_gap_km", "synthetic_spacing_km", "seat_access_max_km",
                            "interchange_town_km", "min_charging_trip_km")(within(0, 2_000, unit="km"))
    _r_trips = field_validator("gravity_trips_per_1000_pop")(within(0, 1e6, unit="trips per 1,000 residents"))
    _r_daily = field_validator("gravity_daily_trips")(within(0, 1e9, unit="vehicles/day"))
    _r_scale = field_validator("daily_trips_scale")(within(0, 1_000, lo_open=True))
    _r_min = field_validator("session_min", "wait_target_min")(within(0, 1_440, lo_open=True, unit="min"))
    _r_kw = field_validator("plug_kw")(within(0, 2_000, lo_open=True, unit="kW"))
    _r_plugs = field_validator("min_plugs")(within(1, 1_000))
    _r_st = field_validator("stations")(within(0, 100_000))
    _r_cny = field_validator("budget_cny", "cost_service_area_cny", "cost_interchange_cny",
                             "cost_synthetic_cny")(within(0, 1e12, unit="CNY"))
    _r_theta = field_validator("route_logit_theta")(within(0, 1_000))
    _r_snap = field_validator("candidate_snap_m")(within(0, 100_000, lo_open=True, unit="m"))

    @property
    def effective_range_km(self) -> float:
        """Range the model uses: ``range_km * range_derate`` (km)."""
        return self.range_km * self.range_derate

    @property
    def site_cost_by_type(self) -> dict[str, float]:
        """Opening cost (CNY) per candidate type; existing sites cost nothing."""
        return {
            "service_area": self.cost_service_area_cny,
            "interchange": self.cost_interchange_cny,
            "synthetic": self.cost_synthetic_cny,
            "user": self.cost_service_area_cny,
            "existing": 0.0,
        }

    @model_validator(mode="after")
    def _check_consistency(self) -> HighwayParams:
        if self.synthetic_spacing_km > self.max_gap_km:
            raise ValueError(
                f"highway.synthetic_spacing_km={self.synthetic_spacing_km:g} is larger than "
                f"highway.max_gap_km={self.max_gap_km:g}: synthetic candidates could never close a gap; "
                "set synthetic_spacing_km to at most max_gap_km (e.g. 10)"
            )
        if self.max_gap_km > self.effective_range_km:
            raise ValueError(
                f"highway.max_gap_km={self.max_gap_km:g} exceeds the effective range "
                f"{self.effective_range_km:g} km (range_km={self.range_km:g} × range_derate={self.range_derate:g}); "
                "a gap longer than the range cannot be driven — lower max_gap_km or raise range_km"
            )
        if self.mode == "min_cost" and (self.stations is not None or self.budget_cny is not None):
            raise ValueError(
                "highway.mode='min_cost' minimises cost: remove highway.stations / highway.budget_cny "
                "(they apply to mode='max_flow')"
            )
        return self
