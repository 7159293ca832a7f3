"""The one interface every planning tier implements, and the context a plan hands it.

A tier (public charging, highway fast charging, battery swap, hydrogen, …) is a class with
three steps::

    prepare(ctx)            -> Prepared    demand, candidates and the tier's model block
    solve(ctx, prep)        -> JointSolution   the tier alone: the numeric core with one year
    assess(ctx, prep, sol)  -> TierResult  layers, report sections, status, metadata

:mod:`gzcharge.plan` prepares every enabled tier once, then either solves each block alone
(``solve``) or hands all blocks to the joint model (:func:`gzcharge.locate.joint.solve_joint`
over the plan years, shared sites, budgets) and assesses each tier from that one solution.
Because both routes use the very same prepared block and the same numeric core, a joint plan
with one tier and one year *is* that tier's plan.

A new facility type is one module with a :class:`Tier` subclass plus one line in
:data:`gzcharge.tiers.REGISTRY`; nothing in :mod:`gzcharge.plan` or the export changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from gzcharge.locate._common import Status

if TYPE_CHECKING:  # pragma: no cover
    from gzcharge.inputs import PlanInputs
    from gzcharge.locate.joint import JointSolution
    from gzcharge.region import Region
    from gzcharge.scenario import Scenario

logger = logging.getLogger(__name__)

__all__ = ["PlanContext", "Prepared", "Tier", "TierResult", "SITE_COLUMNS"]

#: Columns of :attr:`Prepared.sites`, one row per block site in block order.
SITE_COLUMNS = ("site_id", "name", "kind", "county_adcode", "lon", "lat")

ProgressCallback = Callable[[str, float], None]


@dataclass
class PlanContext:
    """What every tier of one plan may use; built once by :func:`gzcharge.plan.run_plan`.

    Attributes
    ----------
    region, scenario, inputs
        The area, the validated scenario and the input files/options.
    network
        The road network built from ``--osm-file``/``--online`` (None without OSM data); tiers
        that need corridors read expressways from it whatever the distance mode.
    distance_network
        The network to measure demand–site distances on: ``network`` in ``distance.mode =
        "network"``, else None (screening distances).
    pois, builtup
        OSM points of interest and built-up polygons (None without OSM data).
    year
        The year a tier plans for when it runs alone (the EV-stock year of the scenario).
    notices
        Run-level notices (tiers append their own through :attr:`Prepared.notes`).
    progress
        ``progress(message, fraction)``.
    """

    region: Region
    scenario: Scenario
    inputs: PlanInputs
    network: Any = None
    distance_network: Any = None
    pois: Any = None
    builtup: Any = None
    year: int = 2030
    notices: list[str] = field(default_factory=list)
    progress: ProgressCallback | None = None
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()`` once per plan under ``key`` (e.g. corridors one tier prepares and another reuses)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def say(self, message: str, fraction: float | None = None) -> None:
        """Report progress (no-op without a callback)."""
        if self.progress is not None:
            self.progress(message, fraction or 0.0)


@dataclass
class Prepared:
    """A tier's prepared data: its model block and candidate sites.

    Attributes
    ----------
    tier
        Tier name (= the block's name).
    block
        The numeric core's block (:class:`~gzcharge.locate.joint.CoverageBlock`,
        :class:`~gzcharge.locate.joint.CapacitatedBlock` or
        :class:`~gzcharge.locate.joint.FlowBlock`), or None when the tier is skipped.
    sites
        One row per block site, in block order, with :data:`SITE_COLUMNS` (lon/lat WGS-84).
    data
        Whatever the tier's ``solve``/``assess`` need (tier-private).
    notes
        Statements for the report and the CLI.
    skipped
        Why the tier does not run (None when it does).
    seconds
        Preparation time.
    site_rules
        The planner's site rules applied to the block (:meth:`gzcharge.candidates.SiteRules.masks`), or None.
    """

    tier: str
    block: Any = None
    sites: pd.DataFrame | None = None
    data: Any = None
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0
    site_rules: pd.DataFrame | None = None


@dataclass
class TierResult:
    """What a tier's plan is, in the terms every consumer (GeoPackage, report, CLI, metadata) needs.

    Attributes
    ----------
    tier, title
        Tier name and report title.
    status
        Solver status (:class:`~gzcharge.locate._common.Status`); ``NOT_RUN`` when skipped.
    objective, gap, seconds
        Of the solve that produced the plan (NaN when skipped).
    layers
        GeoPackage layers and tables by name (drawing order as given).
    summary
        ``(label, value)`` rows for the CLI summary.
    sections
        ``(title, Markdown text or DataFrame)`` report sections.
    metadata
        Flat values for ``run_metadata`` under the tier's name.
    notes
        Statements (unmet targets, estimates) for the report and the CLI.
    raw
        The tier's own result object (e.g. :class:`~gzcharge.tiers.public.PublicResult`).
    skipped
        Why the tier did not run (None when it ran).
    unmet
        Hard rules of the tier the plan misses (one sentence each, naming the county/site): the
        plan's headline whenever it is not empty, whatever the solver status.
    """

    tier: str
    title: str
    status: Status = Status.NOT_RUN
    objective: float = float("nan")
    gap: float = float("nan")
    seconds: float = 0.0
    layers: dict[str, Any] = field(default_factory=dict)
    summary: list[tuple[str, Any]] = field(default_factory=list)
    sections: list[tuple[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    raw: Any = None
    skipped: str | None = None
    unmet: list[str] = field(default_factory=list)

    @classmethod
    def skipped_result(cls, tier: str, title: str, reason: str) -> TierResult:
        """A tier that did not run: its reason is a section and a summary row."""
        from gzcharge.export.i18n import msg, untranslated

        said = msg("tier.skipped_en" if untranslated([reason]) else "tier.skipped", reason=reason)
        return cls(tier=tier, title=title, skipped=reason, summary=[(tier, "skipped")],
                   sections=[(title, said)], metadata={"skipped": True, "notice": reason}, notes=[reason])


class Tier:
    """Base class of a planning tier (see the module docstring).

    Subclasses set :attr:`name` and :attr:`title` and implement :meth:`prepare`,
    :meth:`solve` and :meth:`assess`. :meth:`run` is the tier alone.
    """

    #: Tier name: the scenario's ``[tiers]`` switch, the block name and the metadata key.
    name: ClassVar[str] = ""
    #: Title of the tier's report sections.
    title: ClassVar[str] = ""
    #: Rank of the tier's sites when the joint plan groups co-located candidates into one physical
    #: site (lower ranks anchor first); None: its sites never share land and grid connection.
    site_sharing: ClassVar[int | None] = None
    #: The tier spreads demand over settlements: the plan reads OSM built-up areas and township
    #: places for it when OSM data is given.
    uses_settlements: ClassVar[bool] = False

    def enabled(self, scenario: Scenario) -> bool:
        """Whether the scenario runs this tier (``[tiers]``)."""
        return bool(getattr(scenario.tiers, self.name, False))

    def input_files(self, inputs: PlanInputs) -> list[str]:
        """Names of the :class:`~gzcharge.inputs.PlanInputs` fields this tier reads (for notices)."""
        return []

    def prepare(self, ctx: PlanContext) -> Prepared:  # pragma: no cover - abstract
        raise NotImplementedError

    def solve(self, ctx: PlanContext, prep: Prepared) -> JointSolution:  # pragma: no cover - abstract
        raise NotImplementedError

    def assess(self, ctx: PlanContext, prep: Prepared, sol: JointSolution) -> TierResult:  # pragma: no cover
        raise NotImplementedError

    def run(self, ctx: PlanContext, prep: Prepared | None = None) -> TierResult:
        """The tier alone: prepare (unless given), solve with one year, assess."""
        prep = prep if prep is not None else self.timed_prepare(ctx)
        if prep.skipped:
            return TierResult.skipped_result(self.name, self.title, prep.skipped)
        t0 = time.perf_counter()
        sol = self.solve(ctx, prep)
        res = self.assess(ctx, prep, sol)
        res.seconds = res.seconds or (time.perf_counter() - t0)
        return res

    def timed_prepare(self, ctx: PlanContext) -> Prepared:
        """:meth:`prepare` with its time recorded."""
        t0 = time.perf_counter()
        prep = self.prepare(ctx)
        rules = ctx.memo("site_rules", ctx.inputs.site_rules) if ctx.inputs is not None else None
        if rules is not None and not prep.skipped:  # the planner's required/forbidden sites and zones
            from gzcharge.candidates import apply_site_rules

            prep.notes += apply_site_rules(rules, self.name, prep)
        prep.seconds = time.perf_counter() - t0
        return prep


def status_of(value: Any) -> Status:
    """A :class:`Status` from a Status, its value string, or anything else (``ERROR``)."""
    if isinstance(value, Status):
        return value
    try:
        return Status(str(getattr(value, "value", value)))
    except ValueError:
        return Status.ERROR
