"""Scenario sections shared by every tier: EV stock, distances, solver, which tiers run."""

from __future__ import annotations

import math
import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DistanceParams", "EVParams", "SolverParams", "TiersParams", "available_cores", "within"]


class _Section(BaseModel):
    """Base of every scenario table: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def within(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False, unit: str = ""):
    """A field validator: the value must lie in ``[lo, hi]`` (``(`` / ``)`` with ``lo_open`` / ``hi_open``).

    The bounds are sanity ranges (what the quantity can physically be), not defaults; the
    message names the key, the value and the range. ``None`` (an optional key left out) passes.
    Use as ``_r = field_validator("a", "b")(within(0, 100, lo_open=True, unit="km"))``.
    """
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    suffix = f" {unit}" if unit else ""

    def check(value, info):
        if value is None:
            return value
        ok = (math.isfinite(value) and (value > lo if lo_open else value >= lo)
              and (value < hi if hi_open else value <= hi))
        if not ok:
            raise ValueError(f"{info.field_name} = {value:g} is outside the allowed range {left}{lo:g}, {hi:g}{right}{suffix}")
        return value

    return check


def available_cores() -> int:
    """CPU cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


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
    """EV stock per county: the province's NEV stock of ``year`` shared out by car ownership.

    ``EVs(c) = stock(year) × w_c / Σ_{Guizhou} w_k``,  ``w_c = households_c × car_share_c × a_p(c)``

    where ``car_share`` = long-form households owning a car / long-form households (2020 census,
    per county), ``a_p`` the relative NEV adoption of the county's prefecture
    (``adoption_by_prefecture``, 1 = the province average) and the sum runs over all 88 counties of
    the built-in pack — whatever region is planned, so a prefecture planned alone and the same
    prefecture inside a province run get the same EVs (one definition). ``stock(year)`` is the NEV
    stock path :attr:`stock_by_year` (log-linear between given years, :attr:`stock_growth_after`
    after the last). ``evs_by_county`` replaces the estimate for the counties it names (adcode ->
    EVs), e.g. with registered vehicle counts from the traffic police.

    :meth:`year_scale` turns the stock path into the demand of plan years relative to ``year``
    (demand grows with the stock, the spatial pattern of the county estimate is kept).
    """

    # Target year of the scenario: the last year of the 15th Five-Year Plan (2026-2030).
    year: int = 2030
    # Relative NEV adoption per prefecture (prefecture adcode -> factor; 1 = province average; others 1).
    # Assumption (range 0.5-2): the relative NEV shares of the earlier prefecture files (贵阳 0.12,
    # 遵义 0.09, 黔东南 0.07, 毕节 0.06 against 0.08 province-wide), reasoned from car ownership
    # (census 2020: 贵阳 49.7 %, 毕节 28.0 % of long-form households own a car vs 36.8 %) and the
    # concentration of NEV sales and chargers in the capital.
    adoption_by_prefecture: dict[str, float] = Field(
        default_factory=lambda: {"520100": 1.5, "520300": 1.125, "520500": 0.75, "522600": 0.875})
    evs_by_county: dict[str, float] = Field(default_factory=dict)
    # NEV stock path of the province (vehicles by year). Facts: 165,000 at the end of 2022 (public provincial
    # statistics, see shared FIELD-NOTES) and the official target of 700,000 by 2026 (贵州省: 到2026年全省新能源
    # 汽车保有量达到70万辆, reported by 中新社, 2024-04-22). Between given years the stock grows at a constant rate
    # (log-linear).
    stock_by_year: dict[str, float] = Field(default_factory=lambda: {"2022": 165_000.0, "2026": 700_000.0})
    # Yearly growth of the NEV stock after the last year of stock_by_year (and before the first, backwards,
    # when only one year is given). Assumption: 0.15 (range 0.08-0.25) — well below the 43 %/year of the
    # 2022-2026 path as the stock matures; 2030 = 700,000 × 1.15^4 ≈ 1.22 M, about a fifth of Guizhou's cars.
    stock_growth_after: float = 0.15

    @field_validator("adoption_by_prefecture")
    @classmethod
    def _adoption(cls, v: dict[str, float]) -> dict[str, float]:
        for code, f in v.items():
            if not (len(code) == 6 and code.isdigit() and code.endswith("00")):
                raise ValueError(f"adoption_by_prefecture key {code!r} is not a prefecture adcode (6 digits "
                                 "ending in 00, e.g. 520100)")
            if not (math.isfinite(f) and 0 < f <= 10):
                raise ValueError(f"adoption_by_prefecture[{code}] must be a factor in (0, 10], got {f}")
        return v

    def adoption(self, county_adcode: str) -> float:
        """Relative NEV adoption of the prefecture holding ``county_adcode`` (1 when not listed)."""
        return float(self.adoption_by_prefecture.get(str(county_adcode)[:4] + "00", 1.0))

    _r_after = field_validator("stock_growth_after")(within(-1, 5, lo_open=True, unit="per year"))

    @field_validator("stock_by_year")
    @classmethod
    def _stock(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("stock_by_year needs at least one year, e.g. {2022 = 165000}")
        for y, n in v.items():
            if not (str(y).isdigit() and 2000 <= int(y) <= 2100):
                raise ValueError(f"stock_by_year year {y!r} is not a year between 2000 and 2100")
            if not (math.isfinite(n) and n > 0):
                raise ValueError(f"stock_by_year[{y}] must be > 0 vehicles, got {n}")
        return {str(y): v[y] for y in sorted(v, key=int)}

    @field_validator("stock_growth_after")
    @classmethod
    def _growth(cls, v: float) -> float:
        if not (math.isfinite(v) and v > -1):
            raise ValueError(f"stock_growth_after must be a yearly rate > -1, got {v}")
        return v

    def stock(self, year: int | float) -> float:
        """NEV stock of ``year`` from :attr:`stock_by_year` (log-linear between given years).

        Outside the given years the stock grows by :attr:`stock_growth_after` a year (forwards
        from the last given year; backwards from the first with the first segment's rate, or
        with :attr:`stock_growth_after` when only one year is given).
        """
        ys = sorted(int(y) for y in self.stock_by_year)
        ns = [math.log(self.stock_by_year[str(y)]) for y in ys]
        y = float(year)
        if y >= ys[-1]:
            return math.exp(ns[-1] + (y - ys[-1]) * math.log1p(self.stock_growth_after))
        if y <= ys[0]:
            rate = (ns[1] - ns[0]) / (ys[1] - ys[0]) if len(ys) > 1 else math.log1p(self.stock_growth_after)
            return math.exp(ns[0] - (ys[0] - y) * rate)
        k = next(i for i in range(1, len(ys)) if y <= ys[i])
        f = (y - ys[k - 1]) / (ys[k] - ys[k - 1])
        return math.exp(ns[k - 1] + f * (ns[k] - ns[k - 1]))

    def year_scale(self, years: list[int], reference_year: int | None = None) -> list[float]:
        """Demand of each plan year relative to the stock the demand weights describe.

        ``stock(t) / stock(reference_year)`` (default :attr:`year`, the year of the county EV
        estimate): pass it as ``year_scale`` of a coverage block whose energies are computed
        for ``reference_year``.
        """
        ref = self.stock(self.year if reference_year is None else reference_year)
        return [self.stock(t) / ref for t in years]

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
    _r_circ = field_validator("circuity")(within(1, 10))
    _r_snap = field_validator("snap_max_m")(within(0, 100_000, lo_open=True, unit="m"))


class SolverParams(_Section):
    """HiGHS settings shared by every model of a run."""

    time_limit_s: float = 60.0
    mip_rel_gap: float = 0.02
    threads: int = 2

    # HiGHS aborts the process (SIGABRT) on absurd thread counts and overflows on huge time limits:
    # both are refused here, before any model is built.
    _r_time = field_validator("time_limit_s")(within(1, 86_400, unit="s (1 s .. 1 day)"))

    @field_validator("mip_rel_gap")
    @classmethod
    def _gap(cls, v: float) -> float:
        if not (math.isfinite(v) and 0.0 <= v < 1.0):
            raise ValueError(f"mip_rel_gap = {v!r} is outside the allowed range [0, 1) (0.01 = 1 %)")
        return v

    @field_validator("threads")
    @classmethod
    def _threads(cls, v: int) -> int:
        cores = available_cores()
        if not 1 <= v <= cores:
            raise ValueError(f"threads = {v} is outside the allowed range [1, {cores}] (the cores available "
                             "to this process)")
        return v


class TiersParams(_Section):
    """Which tiers a plan runs (a tier without its inputs is skipped with a notice)."""

    public: bool = True
    highway: bool = True
    swap: bool = True
    hydrogen: bool = True


