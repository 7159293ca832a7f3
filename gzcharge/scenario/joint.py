"""``[joint]``: the joint multi-tier plan (years, budgets, targets, shared sites)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gzcharge.errors import ConfigError
from gzcharge.scenario.common import TiersParams, within

__all__ = ["TIERS", "JointParams", "joint_params"]

#: Tier names: the switches of ``[tiers]`` (one place for the list).
TIERS = tuple(TiersParams.model_fields)


class JointParams(BaseModel):
    """The joint plan (``[joint]`` in a scenario; unknown keys rejected).

    Attributes
    ----------
    enabled
        Run the joint plan instead of the tiers one by one.
    tiers
        Tiers in the joint model (each needs its inputs; a tier without them is left out
        with a notice).
    years
        Plan years, increasing (default 2026–2030, the 15th Five-Year Plan).
    budgets_cny
        Budget per year (CNY), one per year; ``None`` = no yearly limit.
    total_budget_cny
        Budget over all years (CNY); ``None`` = none.
    carry_over
        Unspent budget of a year may be spent later.
    objective
        ``"min_cost"``: least total cost meeting every year's targets; ``"max_service"``: most
        normalised service summed over the years within the budgets (each tier's served share
        of its own demand, weighted by ``tier_weights``).
    targets
        Tier -> share per year: public covered EV share, swap swaps served share, highway and
        hydrogen refuelled flow share (NaN/None entries: no target that year).
    monotone_targets
        Reject targets that fall from one year to the next.
    hard_targets, hard_from_year
        Apply the tiers' own hard rules (townships covered, county shares and station counts,
        every swap served in swap ``min_cost`` mode, the highway maximum-gap rule) from
        ``hard_from_year`` (default: the last year) on.
    colocation_m
        Candidates of different tiers within this distance form one physical site.
    shared_cost_cny
        Land + grid connection of a physical site. Tier costs already include it, so a site
        hosting several tiers pays it once: in a multi-tier site each member's cost is reduced
        by ``min(shared_cost_cny, cheapest member cost)`` and the site pays that amount once.
        Swap stations are not part of cost sharing (their cost is per station).
    compatible
        Pairs of tiers that may share a site (default: every pair).
    tier_weights
        Weight of each tier's normalised service in ``max_service`` (default 1).
    discount_rate
        Present value of later spending in ``min_cost`` (0 = nominal sum).
    marginal, marginal_step
        Re-solve with each year's budget (and the total budget) raised by ``marginal_step``
        to report what a marginal budget buys.
    time_limit_s, mip_rel_gap
        Solver options of the joint call. ``time_limit_s`` bounds the whole call: the main
        solve takes what it needs of it and the marginal re-solves share what is left (one with less than 5 s left is skipped, with a note).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # sanity ranges (not defaults); the time limit as [solver] (HiGHS overflows on huge limits)
    _r_time = field_validator("time_limit_s")(within(1, 86_400, unit="s (1 s .. 1 day)"))
    _r_col = field_validator("colocation_m")(within(0, 100_000, unit="m"))
    _r_cny = field_validator("shared_cost_cny", "total_budget_cny")(within(0, 1e12, unit="CNY"))

    enabled: bool = False
    tiers: list[str] = Field(default_factory=lambda: list(TIERS))
    years: list[int] = Field(default_factory=lambda: [2026, 2027, 2028, 2029, 2030])
    budgets_cny: list[float] | None = None
    total_budget_cny: float | None = Field(default=None, ge=0)
    carry_over: bool = False
    objective: Literal["min_cost", "max_service"] = "min_cost"
    targets: dict[str, list[float | None]] = Field(default_factory=dict)
    monotone_targets: bool = True
    hard_targets: bool = True
    hard_from_year: int | None = None
    colocation_m: float = Field(default=500.0, ge=0)
    shared_cost_cny: float = Field(default=500_000.0, ge=0)
    compatible: list[tuple[str, str]] | None = None
    tier_weights: dict[str, float] = Field(default_factory=dict)
    discount_rate: float = Field(default=0.0, ge=0, lt=1)
    marginal: bool = True
    marginal_step: float = Field(default=0.1, gt=0, le=1)
    time_limit_s: float = Field(default=240.0, gt=0)
    mip_rel_gap: float = Field(default=1e-3, ge=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> JointParams:
        y = self.years
        if not y or len(set(y)) != len(y) or y != sorted(y):
            raise ValueError(f"joint.years must be increasing, distinct years, got {y}")
        if self.budgets_cny is not None:
            if len(self.budgets_cny) != len(y):
                raise ValueError(f"joint.budgets_cny has {len(self.budgets_cny)} budgets for {len(y)} years {y}; "
                                 "give one budget (CNY) per year")
            bad = [b for b in self.budgets_cny if not (math.isfinite(b) and b >= 0)]
            if bad:
                raise ValueError(f"joint.budgets_cny must be >= 0 CNY, got {bad}")
        for name, group in (("tiers", self.tiers), ("targets", list(self.targets)), ("tier_weights", list(self.tier_weights))):
            unknown = sorted(set(group) - set(TIERS))
            if unknown:
                raise ValueError(f"joint.{name} names unknown tier(s) {unknown}; tiers are {list(TIERS)}")
        for pair in self.compatible or []:
            unknown = sorted(set(pair) - set(TIERS))
            if unknown:
                raise ValueError(f"joint.compatible rule {list(pair)} names unknown tier(s) {unknown}; tiers are "
                                 f"{list(TIERS)}")
        for tier, shares in self.targets.items():
            if len(shares) != len(y):
                raise ValueError(f"joint.targets.{tier} has {len(shares)} shares for {len(y)} years; give one per year")
            vals = [s for s in shares if s is not None and math.isfinite(s)]
            if any(s < 0 or s > 1 for s in vals):
                raise ValueError(f"joint.targets.{tier} shares must be in [0, 1], got {shares}")
            if self.monotone_targets and any(b < a - 1e-12 for a, b in zip(vals[:-1], vals[1:], strict=True)):
                raise ValueError(f"joint.targets.{tier} falls over the years ({shares}); targets by year must not "
                                 "decrease (or set joint.monotone_targets = false)")
        if self.hard_from_year is not None and self.hard_from_year not in y:
            raise ValueError(f"joint.hard_from_year {self.hard_from_year} is not one of the plan years {y}")
        if self.objective == "max_service" and self.budgets_cny is None and self.total_budget_cny is None:
            raise ValueError("joint.objective = \"max_service\" needs joint.budgets_cny or joint.total_budget_cny")
        return self

    def target_array(self, tier: str) -> list[float] | None:
        """Targets of a tier as floats (NaN = none), or None."""
        t = self.targets.get(tier)
        return None if t is None else [float("nan") if s is None else float(s) for s in t]

    def hard_index(self) -> int:
        """Year index from which the hard rules hold."""
        return len(self.years) - 1 if self.hard_from_year is None else self.years.index(self.hard_from_year)


def joint_params(data: dict | None = None, *, source: str = "[joint]") -> JointParams:
    """Validate a ``[joint]`` table; errors become one-line :class:`ConfigError`."""
    from pydantic import ValidationError

    try:
        return JointParams.model_validate(dict(data or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{source}: {where + ': ' if where else ''}{msg}") from None


