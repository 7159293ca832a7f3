r"""Joint multi-type siting with shared sites, budgets and phasing over years (numeric core).

One model for every facility type of a plan, built from *tier blocks* that share a budget
and physical sites. Geometry-free: every input is arrays with ids (the geometry side is
:mod:`gzcharge.joint`).

Blocks
------
* :class:`CoverageBlock` (public charging tiers): demand ``i`` (weight ``w_i``), candidate
  sites ``j`` (cost ``c_j``, existing ``E``), cover sets ``N_i``; hard rules *must-cover
  rows*, *area share* (``Σ_{i∈g} w_i y_i >= s_g W_g`` per county ``g``) and *area counts*
  (``Σ_{j∈g} x_j >= n_g``) — the model of :mod:`gzcharge.tiers.public`. Rows with identical
  cover sets share one ``y`` (exact: raising ``y`` never hurts, and with capacity every row of a
  group is served exactly when one of the group's sites is open).

  *Capacitated* (``energy`` given): daily energy ``e_i`` (scaled by ``σ_t``, ``year_scale``),
  integer plugs ``p_{j,t}`` (cumulative) of capacity ``κ`` each, energy assigned on the
  nonzeros of the (merged) cover matrix ``f_{G,j,t} >= 0``::

      y_{G,t} >= x_{j,t}                      j ∈ N_G, E_G > 0 (an open site serves the demand in reach)
      Σ_{j∈N_G} f_{G,j,t} >= σ_t E_G y_{G,t}  (>= σ_t E_G when an existing site covers G)
      Σ_G f_{G,j,t} <= κ p_{j,t} ;  f_{G,j,t} <= σ_t E_G x_{j,t}  (j ∉ E)
      m₀ x_{j,t} <= p_{j,t} <= P_j x_{j,t}  (j ∉ E) ;  p_{j,t} >= h_j  (j ∈ E, standing plugs)
      Σ_{j∈N_G} p_{j,t} >= ceil(σ_t E_G / κ) y_{G,t}   (valid rounding rows)
      p_{j,t} >= p_{j,t−1}

  with cumulative cost ``c_j x_{j,t} + π (p_{j,t} − m₀ x_{j,t})`` (new) and ``π (p_{j,t} − h_j)``
  (existing): plugs beyond the ``m₀`` in the site cost are paid in the year they are added.
  ``y`` is 0/1 whenever ``x`` is. One year with capacity is solved in stages (plugs relaxed;
  integer plugs for those sites; the full model from that start, see :func:`_staged_solve`).
* :class:`CapacitatedBlock` (battery swap): demand ``i`` (``d_i`` per day, station type
  ``k(i)``), facilities ``f = (j, k)`` with integer station counts ``n_f ∈ {0..M_k}``,
  capacity ``Q_k`` and unit cost ``F_k`` per station, flows ``x_e`` on allowed arcs
  ``e = (i, f)`` with access cost ``a·l_e`` — the model of :mod:`gzcharge.tiers.swap`.
* :class:`FlowBlock` (highway fast charging, hydrogen): paths ``q`` with flows ``f_q``,
  arc-cover sets ``K_a^q`` (from :func:`gzcharge.locate.frlm._prepare`), required covers
  (maximum-gap windows) — the model of :mod:`gzcharge.locate.frlm`.

Years and phasing
-----------------
Years ``t = 1..T`` (labels, e.g. 2022..2025). Every build variable is **cumulative**:
``x_{j,t}`` = site ``j`` open by year ``t`` (``n_{f,t}`` stations by year ``t``) with
``x_{j,t} >= x_{j,t-1}`` — once built stays built; existing sites are open in every year and
cost nothing (sunk). Flows and coverage ``y`` are per year.

Shared sites
------------
A :class:`SiteRegistry` maps every block's candidate sites to physical *site groups*
(co-located candidates: a service area can host fast chargers, a swap station and a
hydrogen dispenser). A group has a shared fixed cost ``G_g`` (land + grid connection) paid
once, in the year the first of its members opens: ``w_{g,t} >= x_{j,t}`` (and
``M_k w_{g,t} >= n_{f,t}``), ``w`` cumulative. A group with one binary member gets ``G_g``
added to that member's cost instead (same model, fewer variables); a group with an existing
member has paid already. Pairs of blocks not in ``compatible`` may not both use a group:
``u_{g,b} >= x_{j,T}``, ``u_{g,A} + u_{g,B} <= 1``.

Costs and budgets
-----------------
Cumulative spend by year ``t``::

    C_t = Σ_b Σ_j c_j x_{j,t} + Σ_j π (p_{j,t} − m₀ x_{j,t} or − h_j) + Σ_f F_k (n_{f,t} − e_f) + Σ_g G_g w_{g,t}

(``e_f`` existing stations, ``h_j`` standing plugs of existing coverage sites). Year spend is
``C_t − C_{t−1}`` (``C_0 = 0``). Budgets ``B_t``: ``C_t − C_{t−1} <= B_t`` or, with
``carry_over`` (unspent money moves to the next year), ``C_t <= Σ_{s<=t} B_s``; a total
budget ``C_T <= B``.

Targets by year (shares in [0, 1], NaN = none), per block: coverage ``Σ w_i y_{i,t} >= s_t W``;
capacitated ``Σ_e x_{e,t} >= s_t D``; flow ``Σ f_q y_{q,t} >= s_t F``. The blocks' hard rules
(must-cover rows, area shares/counts, full swap service, required covers) hold from year
``hard_from`` (default: the last year) on.

Objectives
----------
``min_cost``::

    min Σ_t ρ_t (C_t − C_{t−1}) + a Σ_e l_e x_{e,T}

(``ρ_t = (1 + r)^{-(t-1)}``, ``r = discount_rate``; access cost counted on the last year's
flows, as the swap tier counts it over its horizon). The model multiplies ``ρ_t`` by
``1 − 10⁻⁶ (t − 1)`` so that among plans of equal cost the one spending later wins (sites are
built when a target or the budget needs them, not early); the reported objective has no such term. ``max_service``::

    max Σ_t Σ_b ω_b S_{b,t} − ε (C_T + access)

with the **normalised service** ``S_{b,t} ∈ [0, 1]`` of each block: its served share of total
demand in year ``t`` — covered weight / total weight (coverage), swaps served / swaps
demanded (capacitated), refuelled flow / total flow (flow). Normalising by each block's
own total makes tiers with different units (EVs, swaps/day, trucks/day) comparable: every
tier counts ``ω_b`` (``tier_weight``, default 1) for full service in one year. ``ε`` makes
the whole cost term worth less than one unit of ``1e-6`` service: cost only breaks ties.

Reproduction: with one block and one year the model is exactly the tier's own model
(public min-cost/max-cover, swap min-cost/max-served, FRLM max-flow/min-cost), which the tests check.

Service levels and costs in the result are **recomputed** from the chosen sites (coverage
from the cover sets, refuelling from the arc-cover sets, or the caller's direct check),
never read from the model's ``y``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as replace_block
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gzcharge._util import preview_ids
from gzcharge.errors import ConfigError, DataError, InfeasibleError, SolverError

logger = logging.getLogger(__name__)

__all__ = [
    "CapacitatedBlock",
    "CoverageBlock",
    "FlowBlock",
    "JointSolution",
    "SiteRegistry",
    "build_joint_model",
    "solve_joint",
]

_DEFER = 1e-6  # min_cost: relative preference per year for spending later (tie-break only)
_SERVICE_SCALE = 1e6  # objective units per unit of normalised service (keeps ε·cost coefficients sane)


# =========================================================================== blocks
@dataclass
class CoverageBlock:
    """A coverage tier (public charging), optionally capacitated: see the module docstring.

    Attributes
    ----------
    name
        Block (tier) name, unique.
    site_ids
        Candidate site ids (``m``).
    site_cost
        Cost per site (CNY), including its first ``min_plugs`` plugs; existing sites cost
        nothing whatever is given.
    cover
        Sparse ``n × m`` matrix: nonzero where site ``j`` covers demand ``i``.
    weight
        Demand weights ``w_i`` (service measure and share targets).
    demand_ids
        Demand ids (default 0..n-1).
    existing
        Bool per site: open already.
    must
        Bool per demand: must be covered (hard rule).
    demand_area, area_share
        Area position per demand (-1 none) and the minimum covered share per area (hard).
    site_area, area_min_sites
        Area position per site (-1 none) and the minimum open sites per area (hard).
    energy
        Capacitated coverage: daily energy ``e_i`` of each demand row (e.g. kWh/day) at
        ``year_scale`` 1; ``None`` = uncapacitated (no plugs, no assignment).
    plug_capacity
        ``κ``: energy one plug delivers per day (same unit as ``energy``), > 0 when capacitated.
    plug_cost
        ``π``: cost per plug beyond ``min_plugs`` (CNY).
    min_plugs
        ``m₀``: plugs every new site has, paid in ``site_cost``.
    existing_plugs
        Plugs already standing per site (existing sites: free, counted toward capacity; NaN
        or None: ``min_plugs``). Ignored for new sites.
    max_plugs
        Most plugs a new site can hold (NaN or None: no limit beyond the demand in reach), e.g. a
        planner's own lot of the candidate-sites file; at least ``min_plugs``. Ignored for
        existing sites.
    year_scale
        ``σ_t`` per year: demand energy of year ``t`` is ``σ_t e_i`` (e.g. EV stock of year
        ``t`` over the stock ``energy`` describes); default 1 in every year.
    objective_weight
        Weights in the ``max_service`` objective (default ``weight``).
    target_share
        Minimum covered share of total weight per year (NaN = none).
    max_new_sites
        Most new sites by the last year.
    hard_from
        Year index (0-based) from which the hard rules hold (default: last year).
    hard
        Apply the hard rules at all.
    tier_weight
        ``ω_b`` in the ``max_service`` objective.
    forced, forbidden
        Bool per site (or None): *forced* sites are open by the last year (a planner's
        "required" site; an existing site already is), *forbidden* sites never open (a
        planner's "forbidden" site or a site inside an exclusion zone; existing sites stay open).
    """

    name: str
    site_ids: pd.Index
    site_cost: np.ndarray
    cover: sp.csr_array
    weight: np.ndarray
    demand_ids: pd.Index | None = None
    existing: np.ndarray | None = None
    must: np.ndarray | None = None
    demand_area: np.ndarray | None = None
    area_share: np.ndarray | None = None
    site_area: np.ndarray | None = None
    area_min_sites: np.ndarray | None = None
    energy: np.ndarray | None = None
    plug_capacity: float = 0.0
    plug_cost: float = 0.0
    min_plugs: int = 0
    existing_plugs: np.ndarray | None = None
    max_plugs: np.ndarray | None = None
    year_scale: Sequence[float] | None = None
    objective_weight: np.ndarray | None = None
    target_share: Sequence[float] | None = None
    max_new_sites: int | None = None
    hard_from: int | None = None
    hard: bool = True
    tier_weight: float = 1.0
    forced: np.ndarray | None = None
    forbidden: np.ndarray | None = None
    kind: str = field(default="coverage", init=False)

    @property
    def capacitated(self) -> bool:
        """True when the block sizes plugs (``energy`` given)."""
        return self.energy is not None

    def plugs_standing(self) -> np.ndarray:
        """Plugs standing at each site before the plan: existing sites' plugs (NaN -> ``min_plugs``), else 0."""
        m = len(self.site_ids)
        ex = np.zeros(m, bool) if self.existing is None else np.asarray(self.existing, bool)
        have = np.full(m, np.nan) if self.existing_plugs is None else np.asarray(self.existing_plugs, float)
        return np.where(ex, np.where(np.isfinite(have), have, float(self.min_plugs)), 0.0)


@dataclass
class CapacitatedBlock:
    r"""A capacitated tier (battery swap): integer stations per site and type, split flows, packs.

    Formulation (per year ``t``; the module docstring has years, budgets and objectives).
    Demand ``i`` has volume ``d_i`` per day and station type ``k(i)``; facility ``f = (j, k)``
    is type ``k`` at site ``j``; arc ``e = (i, f)`` exists where ``dist`` stores ``(i, j)`` and
    ``k = k(i)``, with length ``l_e``::

        n_{f,t} ∈ {e_f, …, U_f}          stations (U_f = M_k, or max_stations[j, k] when given)
        x_{e,t} >= 0                      volume of demand i served at f
        q_{f,t} ∈ {0, 1, …}               packs bought beyond the included ones (with pack data)

        Σ_{e ∋ i} x_{e,t} <= d_i          (= d_i with full service in hard years)
        Σ_{e ∋ f} x_{e,t} − Q_k n_{f,t} <= 0
        x_{e,t} − min(d_i, Q_k U_f) n_{f,t} <= 0              (strong linking)
        ρ_k Σ_{e ∋ f} x_{e,t} − S_k n_{f,t} − q_{f,t} <= 0     (packs)
        Σ_{f of type k} Q_k n_{f,t} >= Σ_{i of type k} d_i     (full service, hard years; a valid cut)
        n and q cumulative (never fall); cost in C_t: Σ_f F_k (n_{f,t} − e_f) + Σ_f c_k q_{f,t};
        access a Σ_e l_e x_{e,T} in the objective.

    ``ρ_k`` (``packs_per_volume``) is the packs a facility needs per unit of daily volume — for
    battery swap ``(1 + reserve share) / turns per day`` — and ``S_k`` (``packs_included``) the
    packs included in each station's ``F_k``; ``q`` integer makes the packs
    ``max(0, ceil(ρ_k x_f) − S_k n_f)``. Existing stations come with their included packs only.

    Variables are the Pyomo components ``<name>__n``, ``<name>__flow`` and ``<name>__packs``
    (facility-major, resp. arc-major, with the year innermost; facilities and arcs as in
    :meth:`arcs`).

    Attributes
    ----------
    name, site_ids, demand_ids
        Block name; candidate site ids (``m``) and demand ids (``n``).
    volume
        ``d_i`` per demand row (e.g. swaps/day).
    demand_type
        Station-type position of each demand row.
    type_names, capacity, unit_cost, max_per_site
        Per station type: name, ``Q_k``, ``F_k``, ``M_k``.
    dist
        Sparse ``n × m`` matrix of allowed arcs (distance, explicit zeros kept).
    access_rate
        ``a``: cost per unit of flow and unit of distance.
    existing
        ``m × K`` integer stations already standing (kept, cost nothing), or None.
    full_service
        Serve every demand row fully from ``hard_from`` on (hard).
    target_share, hard_from, hard, tier_weight
        As in :class:`CoverageBlock`.
    pack_cost, packs_per_volume, packs_included
        Per station type: ``c_k`` (cost per pack beyond the included ones), ``ρ_k`` and
        ``S_k``; all three or none (None: no pack variables).
    max_stations
        ``m × K`` most stations of a type at a site (at most ``M_k``), or None (``M_k``
        everywhere); with ``existing`` equal to it the stations are fixed (e.g. to recompute
        the best flows of a chosen plan).
    station_cost
        ``m × K`` cost of one station of a type at a site (NaN: ``F_k``), or None (``F_k``
        everywhere) — e.g. a planner's own figure for a site of the candidate-sites file.
    forced, forbidden
        Bool per site (or None): *forced* sites are open by the last year (a planner's
        "required" site; an existing site already is), *forbidden* sites never open (a
        planner's "forbidden" site or a site inside an exclusion zone; existing sites stay open).
        At a capacitated site "open" means at least one station of some type.
    """

    name: str
    site_ids: pd.Index
    demand_ids: pd.Index
    volume: np.ndarray
    demand_type: np.ndarray
    type_names: list[str]
    capacity: np.ndarray
    unit_cost: np.ndarray
    max_per_site: np.ndarray
    dist: sp.csr_array
    access_rate: float = 0.0
    existing: np.ndarray | None = None
    full_service: bool = False
    target_share: Sequence[float] | None = None
    hard_from: int | None = None
    hard: bool = True
    tier_weight: float = 1.0
    pack_cost: np.ndarray | None = None
    packs_per_volume: np.ndarray | None = None
    packs_included: np.ndarray | None = None
    max_stations: np.ndarray | None = None
    station_cost: np.ndarray | None = None
    forced: np.ndarray | None = None
    forbidden: np.ndarray | None = None
    kind: str = field(default="capacitated", init=False)

    def __post_init__(self) -> None:
        K = len(self.type_names)
        packs = {"pack_cost": self.pack_cost, "packs_per_volume": self.packs_per_volume,
                 "packs_included": self.packs_included}
        given = [k for k, v in packs.items() if v is not None]
        if given and len(given) < 3:
            missing = sorted(set(packs) - set(given))
            raise DataError(f"block {self.name!r}: pack data needs pack_cost, packs_per_volume and packs_included "
                            f"together; missing {missing}")
        for key, v in packs.items():
            if v is None:
                continue
            a = np.asarray(v, float).ravel()
            if len(a) != K or not np.all(np.isfinite(a)) or (a < 0).any():
                raise DataError(f"block {self.name!r}: {key} needs one finite value >= 0 per station type "
                                f"{self.type_names}, got {a.tolist()}")
        m = sp.csr_array(self.dist).shape[1]
        for key in ("existing", "max_stations", "station_cost"):
            v = getattr(self, key)
            if v is not None and np.shape(v) != (m, K):
                raise DataError(f"block {self.name!r}: {key} must be sites × station types ({m} × {K}), got shape "
                                f"{np.shape(v)}")
        if self.max_stations is not None and self.existing is not None and \
                (np.asarray(self.existing) > np.asarray(self.max_stations)).any():
            raise DataError(f"block {self.name!r}: existing stations exceed max_stations at some sites; raise "
                            "max_stations there")

    @property
    def has_packs(self) -> bool:
        """Whether the block sizes and pays battery packs."""
        return self.pack_cost is not None

    def fac_cost(self, fac_site: np.ndarray, fac_type: np.ndarray) -> np.ndarray:
        """Cost of one station per facility ``(site, type)``: ``station_cost`` where given, else ``F_k``."""
        F = np.asarray(self.unit_cost, float)[fac_type]
        if self.station_cost is None:
            return F
        own = np.asarray(self.station_cost, float)[fac_site, fac_type]
        return np.where(np.isfinite(own), own, F)

    def arcs(self) -> dict[str, np.ndarray]:
        """Arc and facility arrays: per arc ``row, site, len, fac``; per facility ``fac_site, fac_type``."""
        v = sp.csr_array(self.dist)
        v.sort_indices()
        nk = len(self.type_names)
        row = np.repeat(np.arange(v.shape[0]), np.diff(v.indptr))
        site = v.indices.astype(np.int64)
        key = site * nk + self.demand_type[row]
        uniq, inv = np.unique(key, return_inverse=True)
        return {"row": row, "site": site, "len": v.data.astype(float), "fac": inv.astype(np.int64),
                "fac_site": uniq // nk, "fac_type": uniq % nk}


@dataclass
class FlowBlock:
    """A flow-refuelling tier (highway fast charging, hydrogen): see the module docstring.

    Build it with :meth:`from_paths` (arc-cover sets from :mod:`gzcharge.locate.frlm`);
    :meth:`subset` restricts it to fewer sites (a build phase), :meth:`without_sites` is the
    block of a tier with nothing to choose.

    Attributes
    ----------
    name, site_ids
        Block name; station node ids (candidates then existing).
    site_cost, existing
        Per site.
    path_ids, flows
        Per path.
    set_path, set_indptr, set_sites
        Arc-cover sets: path position of each set, CSR pointers, site positions.
    impossible, free
        Per path: never refuellable; refuelled by existing stations alone.
    covers
        Required covers (site position arrays), hard.
    check
        ``check(open_mask) -> refuelled bool per path`` (direct rule), optional.
    target_share, max_new_sites, hard_from, hard, tier_weight
        As in :class:`CoverageBlock`.
    then_max_service
        Lexicographic ``min_cost`` (one year): among the cheapest plans, the one refuelling the
        most flow — :func:`solve_joint` re-solves ``max_service`` with the cheapest cost as the
        budget (the highway tier's "gap rule first, then the most flow at that cost").
    forced, forbidden
        Bool per site (or None): *forced* sites are open by the last year (a planner's
        "required" site; an existing site already is), *forbidden* sites never open (a
        planner's "forbidden" site or a site inside an exclusion zone; existing sites stay open).
    """

    name: str
    site_ids: pd.Index
    site_cost: np.ndarray
    existing: np.ndarray
    path_ids: pd.Index
    flows: np.ndarray
    set_path: np.ndarray
    set_indptr: np.ndarray
    set_sites: np.ndarray
    impossible: np.ndarray
    free: np.ndarray
    covers: list[np.ndarray] = field(default_factory=list)
    check: Callable[[np.ndarray], np.ndarray] | None = None
    target_share: Sequence[float] | None = None
    max_new_sites: int | None = None
    hard_from: int | None = None
    hard: bool = True
    tier_weight: float = 1.0
    then_max_service: bool = False
    forced: np.ndarray | None = None
    forbidden: np.ndarray | None = None
    kind: str = field(default="flow", init=False)

    @classmethod
    def from_paths(cls, name: str, paths: Sequence[Sequence[Any]], flows: Any, edge_lengths: Any,
                   vehicle_range: float, *, candidates: Any = None, existing: Any = None, site_cost: Any = None,
                   required_covers: Any = None, round_trip: bool = True, **kwargs: Any) -> FlowBlock:
        """Block from explicit paths, through the FRLM core's preparation (same arc-cover sets).

        ``kwargs`` set the remaining attributes (``target_share``, ``max_new_sites``, …).
        """
        from gzcharge.locate.frlm import _check_paths, _prepare

        inst = _prepare(paths, flows, edge_lengths, vehicle_range, candidates=candidates, existing=existing,
                        site_cost=site_cost, required_covers=required_covers, round_trip=round_trip)
        R = float(vehicle_range)
        return cls(name=name, site_ids=inst.nodes, site_cost=np.asarray(inst.cost, float),
                   existing=np.asarray(inst.existing, bool), path_ids=inst.path_ids, flows=inst.flows,
                   set_path=inst.set_path, set_indptr=inst.set_indptr, set_sites=inst.set_nodes,
                   impossible=inst.impossible, free=inst.free, covers=list(inst.covers),
                   check=lambda open_mask: _check_paths(inst, np.asarray(open_mask, bool), R, round_trip),
                   **kwargs)

    @classmethod
    def without_sites(cls, name: str, path_ids: Any, flows: Any, refuelled: Any, **kwargs: Any) -> FlowBlock:
        """A block with no site to choose (e.g. no candidate passes a rule): paths are free or impossible.

        ``refuelled`` is the bool per path of the trips refuelled without any station (one way
        within range); the others can never be refuelled.
        """
        ok = np.asarray(refuelled, bool)
        return cls(name=name, site_ids=pd.Index([], name="site_id"), site_cost=np.zeros(0), existing=np.zeros(0, bool),
                   path_ids=pd.Index(path_ids, name="od_id"), flows=np.asarray(flows, float),
                   set_path=np.zeros(0, np.int64), set_indptr=np.zeros(1, np.int64), set_sites=np.zeros(0, np.int64),
                   impossible=~ok, free=ok, check=lambda _open, ok=ok: ok.copy(), **kwargs)

    def subset(self, keep: np.ndarray, *, existing: np.ndarray | None = None) -> FlowBlock:
        """The same block on fewer sites (e.g. a build phase's scope), same arc-cover sets.

        Parameters
        ----------
        keep
            Bool per site: the site stays a candidate.
        existing
            Bool per site: open already (kept, fixed open, no cost); default :attr:`existing`.

        Returns
        -------
        FlowBlock
            Sites ``keep | existing`` in their order; every arc-cover set loses the dropped sites,
            a path with a set left empty becomes impossible; required covers are mapped (a cover
            left without a site raises :class:`InfeasibleError`); ``check`` works on the subset.
        """
        from dataclasses import replace

        ex = np.asarray(self.existing if existing is None else existing, bool)
        kept = np.asarray(keep, bool) | ex
        idx = np.flatnonzero(kept)
        new_pos = np.full(len(kept), -1)
        new_pos[idx] = np.arange(len(idx))
        sizes = np.diff(self.set_indptr)
        set_of = np.repeat(np.arange(len(sizes)), sizes)
        m = new_pos[self.set_sites] >= 0 if len(self.set_sites) else np.zeros(0, bool)
        new_sizes = np.bincount(set_of[m], minlength=len(sizes))
        impossible = np.asarray(self.impossible, bool).copy()
        impossible[self.set_path[new_sizes == 0]] = True
        covers = []
        for c in self.covers:
            cp = new_pos[np.asarray(c)]
            cp = cp[cp >= 0]
            if len(cp) == 0:
                raise InfeasibleError(f"block {self.name!r}: a required cover has no site left in the subset")
            covers.append(cp)
        def check(open_sub: np.ndarray) -> np.ndarray:
            full = np.zeros(len(kept), bool)
            full[idx] = np.asarray(open_sub, bool)
            return _refuelled(self, full)

        return replace(self, site_ids=self.site_ids[idx], site_cost=np.asarray(self.site_cost, float)[idx],
                       existing=ex[idx], set_indptr=np.r_[0, np.cumsum(new_sizes)], set_sites=new_pos[self.set_sites[m]],
                       impossible=impossible, free=np.asarray(self.free, bool) & ~impossible, covers=covers,
                       check=check, forced=None if self.forced is None else np.asarray(self.forced, bool)[idx],
                       forbidden=None if self.forbidden is None else np.asarray(self.forbidden, bool)[idx])


Block = CoverageBlock | CapacitatedBlock | FlowBlock


@dataclass
class SiteRegistry:
    """Physical site groups shared by the blocks.

    Attributes
    ----------
    group_ids
        Group ids.
    shared_cost
        Shared fixed cost per group (land + grid connection), paid once.
    members
        Block name -> group position of each of the block's sites (-1: no shared group).
    compatible
        Pairs of block names that may share a group (``None``: every pair may).
    """

    group_ids: pd.Index
    shared_cost: np.ndarray
    members: dict[str, np.ndarray]
    compatible: Sequence[tuple[str, str]] | None = None


@dataclass
class JointSolution:
    """Outcome of :func:`solve_joint`, by id.

    Attributes
    ----------
    sites
        One row per block site open in the last year: ``block, site_id, group_id, existing,
        build_year`` (label; NaN for existing), ``cost_cny`` (own cost; shared costs are in
        ``groups``; with plugs beyond ``min_plugs`` for capacitated coverage blocks), for
        capacitated blocks ``station_type, n_stations`` plus ``n_<year>`` counts per year, and
        for capacitated coverage blocks ``plugs`` (last year) plus ``plugs_<year>``.
    groups
        Site groups used: ``group_id, blocks`` (comma-separated), ``build_year, shared_cost_cny,
        existing``.
    costs
        ``block, year, cost_cny`` (year spend, ``block = "shared"`` for group costs) plus
        ``access_cny`` for capacitated blocks in the last year.
    service
        ``block, year, served, total, share`` recomputed from the chosen sites.
    status, objective, bound, gap, seconds
        Of the solve; ``objective`` is the total (discounted) cost for ``min_cost`` and
        ``Σ ω_b S_{b,t}`` for ``max_service`` (both recomputed from the solution).
    size
        Model size: columns, integer columns, rows, nonzeros; times ``build_s, solve_s``.
    values
        Raw solution arrays by variable name (for tests and re-solves).
    assignment
        Capacitated coverage blocks: ``block, year, demand_id, site_id, energy`` — the energy
        of each demand row served at each open site (the model's assignment, scaled to the
        year's demand of the covered rows).
    objective_kind
        ``"min_cost"`` or ``"max_service"`` (the objective that was solved).
    notes
        Statements added by the caller (e.g. a tier's budget fallback).
    """

    sites: pd.DataFrame
    groups: pd.DataFrame
    costs: pd.DataFrame
    service: pd.DataFrame
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    size: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    assignment: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["block", "year", "demand_id", "site_id", "energy"]))
    objective_kind: str = "min_cost"
    notes: list[str] = field(default_factory=list)

    def open_sites(self, block: str) -> list:
        """Ids of the sites of ``block`` open in the last year."""
        return self.sites.loc[self.sites["block"] == block, "site_id"].drop_duplicates().tolist()


# =========================================================================== model assembly
class _Layout:
    """Column allocation and constraint rows as sparse triplets (global column numbering)."""

    def __init__(self, T: int) -> None:
        self.T = T
        self.vars: list[tuple[str, int, str, np.ndarray, np.ndarray]] = []
        self.n = 0
        self.offset: dict[str, int] = {}
        self.rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]] = []
        self.cum_r: list[np.ndarray] = []  # cumulative cost by year: (year, col, coef) triplets, by owner
        self.cum_c: list[np.ndarray] = []
        self.cum_v: list[np.ndarray] = []
        self.cum_owner: list[str] = []
        self.const = {}  # owner -> constant cumulative cost per year
        self.access_c: list[np.ndarray] = []
        self.access_v: list[np.ndarray] = []
        self.serv_c: list[np.ndarray] = []  # service objective (year, col, coef normalised)
        self.serv_v: list[np.ndarray] = []
        self.serv_t: list[np.ndarray] = []

    def add_var(self, name: str, n: int, domain: str, lb: Any = 0.0, ub: Any = 1.0) -> int:
        off = self.n
        lb = np.broadcast_to(np.asarray(lb, float), (n,)).copy()
        ub = np.broadcast_to(np.asarray(ub, float), (n,)).copy()
        self.vars.append((name, n, domain, lb, ub))
        self.offset[name] = off
        self.n += n
        return off

    def add_rows(self, name: str, r: np.ndarray, c: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        nrow = len(lo)
        if nrow == 0:
            return
        self.rows.append((name, np.asarray(r, np.int64), np.asarray(c, np.int64), np.asarray(v, float),
                          np.asarray(lo, float), np.asarray(hi, float), nrow))

    def add_cum_cost(self, owner: str, year: np.ndarray, col: np.ndarray, coef: np.ndarray) -> None:
        keep = coef != 0
        self.cum_r.append(np.asarray(year, np.int64)[keep])
        self.cum_c.append(np.asarray(col, np.int64)[keep])
        self.cum_v.append(np.asarray(coef, float)[keep])
        self.cum_owner += [owner]

    def cum_matrix(self, owner: str | None = None) -> sp.csr_array:
        parts = [(r, c, v) for r, c, v, o in zip(self.cum_r, self.cum_c, self.cum_v, self.cum_owner, strict=True)
                 if owner is None or o == owner]
        if not parts:
            return sp.csr_array((self.T, self.n))
        r, c, v = (np.concatenate(x) for x in zip(*parts, strict=True))
        return sp.csr_array((v, (r, c)), shape=(self.T, self.n))

    def const_cost(self, owner: str | None = None) -> np.ndarray:
        if owner is None:
            return sum(self.const.values(), np.zeros(self.T))
        return self.const.get(owner, np.zeros(self.T))


def _monotone(L: _Layout, name: str, off: int, n: int) -> None:
    """v_{j,t} − v_{j,t−1} >= 0 for cumulative variables laid out as off + j*T + t."""
    T = L.T
    if T < 2 or n == 0:
        return
    j = np.repeat(np.arange(n), T - 1)
    t = np.tile(np.arange(1, T), n)
    k = np.arange(len(j))
    cols = off + j * T + t
    L.add_rows(name, np.r_[k, k], np.r_[cols, cols - 1], np.r_[np.ones(len(k)), -np.ones(len(k))],
               np.zeros(len(k)), np.full(len(k), np.inf))


def _years_mask(T: int, hard_from: int | None, hard: bool) -> np.ndarray:
    if not hard:
        return np.zeros(T, bool)
    h = T - 1 if hard_from is None else int(hard_from)
    if not 0 <= h < T:
        raise ConfigError(f"hard_from={hard_from} is not a year index 0..{T - 1}")
    return np.arange(T) >= h


def _targets(block: Block, T: int) -> np.ndarray:
    if block.target_share is None:
        return np.full(T, np.nan)
    s = np.asarray(block.target_share, float).ravel()
    if len(s) != T:
        raise ConfigError(f"block {block.name!r}: target_share has {len(s)} values for {T} years; give one per year")
    return s


def _sum_rows(L: _Layout, name: str, groups: list[tuple[np.ndarray, np.ndarray]], lo: np.ndarray, hi: np.ndarray) -> None:
    """Rows Σ coef·col for a list of (cols, coefs)."""
    if not groups:
        return
    r = np.concatenate([np.full(len(c), k) for k, (c, _) in enumerate(groups)])
    c = np.concatenate([c for c, _ in groups])
    v = np.concatenate([v for _, v in groups])
    L.add_rows(name, r, c, v, lo, hi)


# --------------------------------------------------------------------------- coverage
def _coverage_groups(cover: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """Demand rows with identical cover sets, merged (exact: verified row by row).

    Returns ``(group, rep)``: the group position of every row (-1: no site in reach) and one
    representative row per group.
    """
    C = sp.csr_array(cover)
    C.sort_indices()
    n, m = C.shape
    size = np.diff(C.indptr)
    row = np.repeat(np.arange(n), size)
    rng = np.random.default_rng(20240901)
    keys = [size.astype(np.uint64)]
    for _ in range(2):  # two 64-bit sums of random column keys (wrap-around is fine for a hash)
        h = np.zeros(n, np.uint64)
        np.add.at(h, row, rng.integers(1, 2**63 - 1, m, dtype=np.int64).astype(np.uint64)[C.indices])
        keys.append(h)
    reach = np.flatnonzero(size > 0)
    group = np.full(n, -1, np.int64)
    if not len(reach):
        return group, np.zeros(0, np.int64)
    _, first, inv = np.unique(np.column_stack([k[reach] for k in keys]), axis=0, return_index=True,
                              return_inverse=True)
    rep = reach[first]
    group[reach] = inv.ravel()
    D = (C[reach] - C[rep[inv.ravel()]]).tocsr()
    D.eliminate_zeros()
    if D.nnz:  # a hash collision (never seen): fall back to one group per row
        group[reach] = np.arange(len(reach))
        rep = reach
    return group, rep


def _define_coverage(L: _Layout, b: CoverageBlock, info: dict) -> None:
    """Coverage rows over merged demand groups; with ``energy``, plugs, assignment and capacity too."""
    T = L.T
    cover = sp.csr_array(b.cover).astype(bool).astype(float)
    cover.sort_indices()
    n, m = cover.shape
    ex = np.zeros(m, bool) if b.existing is None else np.asarray(b.existing, bool)
    w = np.asarray(b.weight, float)
    must = np.zeros(n, bool) if b.must is None else np.asarray(b.must, bool)
    hard = _years_mask(T, b.hard_from, b.hard)
    new = np.flatnonzero(~ex)
    npos = np.full(m, -1)
    npos[new] = np.arange(len(new))
    grp, rep = _coverage_groups(cover)
    reach = grp >= 0
    if hard.any() and (must & ~reach).any():
        bad = (b.demand_ids if b.demand_ids is not None else pd.RangeIndex(n))[must & ~reach]
        raise InfeasibleError(f"block {b.name!r}: must-cover demand {preview_ids(bad)} has no candidate site in reach",
                              unserved=list(bad))
    ng = len(rep)
    CG = sp.csr_array(cover[rep])
    gi = np.flatnonzero(reach)
    g_of = grp[gi]
    ex_g = (CG @ ex.astype(float)) > 0 if ng else np.zeros(0, bool)
    cov_ex = reach & ex_g[np.maximum(grp, 0)]
    free_g = np.flatnonzero(~ex_g)  # groups with a coverage variable y_G
    ny, nx_ = len(free_g), len(new)
    ypos = np.full(ng, -1)
    ypos[free_g] = np.arange(ny)
    Wg = np.bincount(g_of, weights=w[gi], minlength=ng)
    must_g = np.bincount(g_of, weights=must[gi].astype(float), minlength=ng) > 0
    cost = np.asarray(b.site_cost, float)[new] + info["fold"].get(b.name, np.zeros(m))[new]
    xo = L.add_var(f"{b.name}__x", nx_ * T, "binary")
    ylb = np.zeros((ny, T))
    if hard.any():
        ylb[np.ix_(must_g[free_g], hard)] = 1.0
    yo = L.add_var(f"{b.name}__y", ny * T, "real", ylb.ravel(), 1.0)
    ti = np.arange(T)
    CGn = sp.csr_array(CG[free_g][:, new]).tocoo()  # free group × new site
    d: dict[str, Any] = {"new": new, "grp": grp, "CG": CG, "free_g": free_g, "ypos": ypos, "ex_g": ex_g,
                         "cov_ex": cov_ex, "xo": xo, "yo": yo, "cost": cost, "cap": b.capacitated}
    info["blocks"][b.name] = d
    # cover link: y_{G,t} − Σ_{j∈N_G} x_{j,t} <= 0
    k = np.arange(ny * T)
    rr = (CGn.row[:, None] * T + ti).ravel()
    cc = (xo + CGn.col[:, None] * T + ti).ravel()
    L.add_rows(f"{b.name}__cover", np.r_[k, rr], np.r_[yo + k, cc], np.r_[np.ones(len(k)), -np.ones(len(rr))],
               np.full(len(k), -np.inf), np.zeros(len(k)))
    _monotone(L, f"{b.name}__x_monotone", xo, nx_)
    jj, tt = np.repeat(np.arange(nx_), T), np.tile(ti, nx_)
    site_coef = cost.copy()
    const = np.zeros(T)
    if b.capacitated:
        const += _define_capacity(L, b, info, d, CG, CGn, cover, grp, gi, ex, npos, site_coef)
    L.add_cum_cost(b.name, tt, xo + jj * T + tt, site_coef[jj])
    L.const[b.name] = L.const.get(b.name, np.zeros(T)) + const
    W = float(w.sum())
    w_ex = float(w[cov_ex].sum())
    # area shares (hard years): Σ_G (Σ_{i∈G∩a} w_i) y_G >= s_a W_a − (covered by existing sites)
    if b.demand_area is not None and b.area_share is not None and hard.any():
        area = np.asarray(b.demand_area)
        share = np.asarray(b.area_share, float)
        na = len(share)
        ok = (area >= 0) & (area < na)
        tot = np.bincount(area[ok], weights=w[ok], minlength=na)
        got = np.bincount(area[ok & cov_ex], weights=w[ok & cov_ex], minlength=na)
        rhs = share * tot - got
        need = np.flatnonzero((share > 0) & (tot > 0) & (rhs > 1e-9))
        sel = ok & reach & ~cov_ex
        A = sp.csr_array((w[sel], (area[sel], ypos[grp[sel]])), shape=(na, max(ny, 1)))
        A.sum_duplicates()
        A = sp.csr_array(A[need])
        hy = np.flatnonzero(hard)
        cnt = np.diff(A.indptr)
        rows_a = np.repeat(np.arange(len(need)), cnt)
        r = (rows_a[:, None] * len(hy) + np.arange(len(hy))).ravel()
        c = (yo + A.indices[:, None] * T + hy).ravel()
        v = np.repeat(A.data, len(hy))
        lo = np.repeat(rhs[need], len(hy))
        if (lo > 0).any() and len(lo):
            L.add_rows(f"{b.name}__area_share", r, c, v, lo, np.full(len(lo), np.inf))
    if b.site_area is not None and b.area_min_sites is not None and hard.any():
        sa = np.asarray(b.site_area)
        need_s = np.asarray(b.area_min_sites, float)
        groups, lo_ = [], []
        for a in range(len(need_s)):
            rhs_a = need_s[a] - float((ex & (sa == a)).sum())
            if rhs_a <= 0:
                continue
            j_in = np.flatnonzero(sa[new] == a)
            for t in np.flatnonzero(hard):
                groups.append((xo + j_in * T + t, np.ones(len(j_in))))
                lo_.append(rhs_a)
        _sum_rows(L, f"{b.name}__area_count", groups, np.asarray(lo_), np.full(len(lo_), np.inf))
    s = _targets(b, T)
    yrs = np.flatnonzero(np.isfinite(s) & (s > 0))
    _sum_rows(L, f"{b.name}__target", [(yo + np.arange(ny) * T + t, Wg[free_g]) for t in yrs],
              s[yrs] * W - w_ex, np.full(len(yrs), np.inf))
    if b.max_new_sites is not None:
        _sum_rows(L, f"{b.name}__max_sites", [(xo + np.arange(nx_) * T + T - 1, np.ones(nx_))],
                  np.array([-np.inf]), np.array([float(b.max_new_sites)]))
    # service (normalised)
    ow = w if b.objective_weight is None else np.asarray(b.objective_weight, float)
    OW = float(ow.sum())
    if OW > 0 and ny:
        owg = np.bincount(g_of, weights=ow[gi], minlength=ng)[free_g]
        ii, tt = np.repeat(np.arange(ny), T), np.tile(ti, ny)
        L.serv_c.append(yo + ii * T + tt)
        L.serv_v.append(b.tier_weight * owg[ii] / OW)
        L.serv_t.append(tt)
    info["groups_binary"].append((b.name, new, xo))


def _year_scale(b: CoverageBlock, T: int) -> np.ndarray:
    if b.year_scale is None:
        return np.ones(T)
    s = np.asarray(b.year_scale, float).ravel()
    if len(s) != T:
        raise ConfigError(f"block {b.name!r}: year_scale has {len(s)} values for {T} years; give one per year")
    return s


def _define_capacity(L: _Layout, b: CoverageBlock, info: dict, d: dict, CG: sp.csr_array, CGn: Any,
                     cover: sp.csr_array, grp: np.ndarray, gi: np.ndarray, ex: np.ndarray, npos: np.ndarray,
                     site_coef: np.ndarray) -> np.ndarray:
    """Plugs, energy assignment and capacity of a capacitated coverage block; returns its constant cost by year.

    Adjusts ``site_coef`` (cost per new site column) in place: ``c_j − π m₀`` where the site has plugs.
    """
    T = L.T
    ti = np.arange(T)
    ng, m = CG.shape
    e = np.asarray(b.energy, float)
    sig = _year_scale(b, T)
    kap, pi, m0 = float(b.plug_capacity), float(b.plug_cost), float(b.min_plugs)
    Eg = np.bincount(grp[gi], weights=e[gi], minlength=ng)
    ypos, xo, yo = d["ypos"], d["xo"], d["yo"]
    # force: a demand group with energy is served as soon as a site in its reach is open (its drivers
    # use it): y_{G,t} − x_{j,t} >= 0, so y is 0/1 whenever x is
    fz = Eg[d["free_g"]][CGn.row] > 0
    fr, fc = CGn.row[fz], CGn.col[fz]
    k = np.arange(len(fr) * T)
    L.add_rows(f"{b.name}__force", np.r_[k, k], np.r_[(yo + fr[:, None] * T + ti).ravel(),
                                                      (xo + fc[:, None] * T + ti).ravel()],
               np.r_[np.ones(len(k)), -np.ones(len(k))], np.zeros(len(k)), np.full(len(k), np.inf))
    # arcs: groups with energy × every site in reach (new and existing)
    CA = sp.csr_array(CG[np.flatnonzero(Eg > 0)]).tocoo()
    ga = np.flatnonzero(Eg > 0)[CA.row]
    ja = CA.col.astype(np.int64)
    order = np.lexsort((ja, ga))
    ga, ja = ga[order], ja[order]
    na = len(ga)
    psites = np.unique(ja)
    ppos = np.full(m, -1)
    ppos[psites] = np.arange(len(psites))
    standing = b.plugs_standing()
    reach_e = np.bincount(ja, weights=Eg[ga], minlength=m)
    pmax = np.maximum(np.where(ex, standing, m0), np.ceil(reach_e * sig.max() / kap - 1e-9))
    if b.max_plugs is not None:  # a site's own limit (new sites)
        cap = np.asarray(b.max_plugs, float)
        pmax = np.where(~ex & np.isfinite(cap), np.minimum(pmax, cap), pmax)
    pmax = pmax[psites]
    plb = np.where(ex[psites], standing[psites], 0.0)
    po = L.add_var(f"{b.name}__plugs", len(psites) * T, "real" if info.get("relax_plugs") else "integer",
                   np.repeat(plb, T), np.repeat(pmax, T))
    fo = L.add_var(f"{b.name}__assign", na * T, "real", 0.0, np.inf)
    d.update(Eg=Eg, sig=sig, ga=ga, ja=ja, psites=psites, ppos=ppos, po=po, fo=fo, standing=standing, pmax=pmax)
    fcol = (fo + np.arange(na)[:, None] * T + ti).ravel()
    # serve: Σ_j f_{G,j,t} − σ_t E_G y_{G,t} >= 0 (groups covered by an existing site: >= σ_t E_G)
    gE = np.flatnonzero(Eg > 0)
    gpos = np.full(ng, -1)
    gpos[gE] = np.arange(len(gE))
    r1 = (gpos[ga][:, None] * T + ti).ravel()
    hasy = ypos[gE] >= 0
    r2 = (np.flatnonzero(hasy)[:, None] * T + ti).ravel()
    c2 = (yo + ypos[gE[hasy]][:, None] * T + ti).ravel()
    v2 = -(Eg[gE[hasy]][:, None] * sig).ravel()
    lo = np.where(hasy[:, None], 0.0, Eg[gE][:, None] * sig).ravel()
    L.add_rows(f"{b.name}__serve", np.r_[r1, r2], np.r_[fcol, c2], np.r_[np.ones(len(r1)), v2], lo,
               np.full(len(gE) * T, np.inf))
    # capacity: Σ_G f_{G,j,t} − κ p_{j,t} <= 0
    rc = (ppos[ja][:, None] * T + ti).ravel()
    kp = np.arange(len(psites) * T)
    L.add_rows(f"{b.name}__capacity", np.r_[rc, kp], np.r_[fcol, po + kp], np.r_[np.ones(len(rc)), -np.full(len(kp), kap)],
               np.full(len(kp), -np.inf), np.zeros(len(kp)))
    # rounding (valid, strengthening): the plugs in reach of a served group hold its energy in whole plugs,
    # Σ_{j∈N_G} p_{j,t} >= ceil(σ_t E_G / κ) y_{G,t}
    need = np.ceil(Eg[gE][:, None] * sig / kap - 1e-9)  # groups × T
    cp = (po + ppos[ja][:, None] * T + ti).ravel()
    c3 = (yo + ypos[gE[hasy]][:, None] * T + ti).ravel()
    lo3 = np.where(hasy[:, None], 0.0, need).ravel()
    L.add_rows(f"{b.name}__round", np.r_[r1, r2], np.r_[cp, c3], np.r_[np.ones(len(r1)), -need[hasy].ravel()], lo3,
               np.full(len(gE) * T, np.inf))
    # link (strengthening): f_{G,j,t} − σ_t E_G x_{j,t} <= 0 for new sites
    an = np.flatnonzero(~ex[ja])
    kl = np.arange(len(an) * T)
    L.add_rows(f"{b.name}__link", np.r_[kl, kl], np.r_[(fo + an[:, None] * T + ti).ravel(),
                                                         (xo + npos[ja[an]][:, None] * T + ti).ravel()],
               np.r_[np.ones(len(kl)), -(Eg[ga[an]][:, None] * sig).ravel()], np.full(len(kl), -np.inf),
               np.zeros(len(kl)))
    # plugs of new sites: m₀ x_{j,t} <= p_{j,t} <= P_j x_{j,t}
    pn = np.flatnonzero(~ex[psites])
    xc = (xo + npos[psites[pn]][:, None] * T + ti).ravel()
    pc = (po + pn[:, None] * T + ti).ravel()
    kk = np.arange(len(pc))
    L.add_rows(f"{b.name}__plugs_min", np.r_[kk, kk], np.r_[pc, xc], np.r_[np.ones(len(kk)), -np.full(len(kk), m0)],
               np.zeros(len(kk)), np.full(len(kk), np.inf))
    L.add_rows(f"{b.name}__plugs_max", np.r_[kk, kk], np.r_[pc, xc], np.r_[np.ones(len(kk)), -np.repeat(pmax[pn], T)],
               np.full(len(kk), -np.inf), np.zeros(len(kk)))
    _monotone(L, f"{b.name}__plugs_monotone", po, len(psites))
    # cost: π (p_{j,t} − m₀ x_{j,t}) for new sites, π (p_{j,t} − standing_j) for existing ones
    site_coef[npos[psites[pn]]] -= pi * m0
    qq, tt = np.repeat(np.arange(len(psites)), T), np.tile(ti, len(psites))
    L.add_cum_cost(b.name, tt, po + qq * T + tt, np.full(len(qq), pi))
    return np.full(T, -pi * float(standing[psites[ex[psites]]].sum()))


# --------------------------------------------------------------------------- capacitated
def _define_capacitated(L: _Layout, b: CapacitatedBlock, info: dict) -> None:
    """Stations, flows and packs of a :class:`CapacitatedBlock` (formulation in its docstring)."""
    T = L.T
    a = b.arcs()
    nf, ne, nd = len(a["fac_site"]), len(a["row"]), len(b.volume)
    d = np.asarray(b.volume, float)
    cap, M = np.asarray(b.capacity, float), np.asarray(b.max_per_site, float)
    ft = a["fac_type"]
    Ff = b.fac_cost(a["fac_site"], ft)  # cost of one station per facility
    e_f = np.zeros(nf)
    if b.existing is not None:
        e_f = np.asarray(b.existing, float)[a["fac_site"], ft]
    ub_f = M[ft] if b.max_stations is None else np.minimum(M[ft], np.asarray(b.max_stations, float)[a["fac_site"], ft])
    if (e_f > ub_f).any():
        bad = b.site_ids[a["fac_site"][e_f > ub_f]]
        raise DataError(f"block {b.name!r}: existing stations above max_per_site at sites {preview_ids(bad)}; raise "
                        "max_per_site of their station type")
    hard = _years_mask(T, b.hard_from, b.hard)
    if b.full_service and hard.any():
        reach = np.zeros(nd)
        np.add.at(reach, a["row"], (cap[ft] * ub_f)[a["fac"]])
        short = reach < d * (1 - 1e-9)
        if short.any():
            bad = b.demand_ids[short]
            raise InfeasibleError(
                f"block {b.name!r}: demand {preview_ids(bad)} exceeds what every station allowed within reach can "
                "serve (no site within reach, or capacity × max stations too small); add sites near it, allow more "
                "stations per site, or drop full service", unserved=list(bad))
    no = L.add_var(f"{b.name}__n", nf * T, "integer", np.repeat(e_f, T), np.repeat(ub_f, T))
    xo = L.add_var(f"{b.name}__flow", ne * T, "real", 0.0, np.inf)
    info["blocks"][b.name] = {"arcs": a, "no": no, "xo": xo, "e_f": e_f}
    ti = np.arange(T)
    # demand rows: Σ_e x_{e,t} <= d_i  (= d_i in hard years with full service)
    rr = (a["row"][:, None] * T + ti).ravel()
    cc = (xo + np.arange(ne)[:, None] * T + ti).ravel()
    lo = np.full((nd, T), -np.inf)
    if b.full_service:
        lo[:, hard] = d[:, None]
    L.add_rows(f"{b.name}__demand", rr, cc, np.ones(len(rr)), lo.ravel(), np.repeat(d, T))
    # capacity: Σ_{e∋f} x_{e,t} − Q n_{f,t} <= 0
    rf = (a["fac"][:, None] * T + ti).ravel()
    kf = np.arange(nf * T)
    L.add_rows(f"{b.name}__capacity", np.r_[rf, kf], np.r_[cc, no + kf],
               np.r_[np.ones(len(rf)), -np.repeat(cap[ft], T)], np.full(nf * T, -np.inf), np.zeros(nf * T))
    # linking: x_{e,t} − min(d_i, Q U_f) n_{f,t} <= 0
    big = np.minimum(d[a["row"]], (cap[ft] * ub_f)[a["fac"]])
    ke = np.arange(ne * T)
    L.add_rows(f"{b.name}__link", np.r_[ke, ke], np.r_[cc, (no + a["fac"][:, None] * T + ti).ravel()],
               np.r_[np.ones(ne * T), -np.repeat(big, T)], np.full(ne * T, -np.inf), np.zeros(ne * T))
    _monotone(L, f"{b.name}__n_monotone", no, nf)
    # aggregate capacity cut per station type (full service, hard years)
    if b.full_service and hard.any():
        need = np.bincount(b.demand_type, weights=d, minlength=len(cap))
        groups, lo_ = [], []
        for k in np.flatnonzero(need > 0):
            fk = np.flatnonzero(ft == k)
            for t in np.flatnonzero(hard):
                groups.append((no + fk * T + t, np.full(len(fk), cap[k])))
                lo_.append(need[k])
        _sum_rows(L, f"{b.name}__type_capacity", groups, np.asarray(lo_), np.full(len(lo_), np.inf))
    s = _targets(b, T)
    yrs = np.flatnonzero(np.isfinite(s) & (s > 0))
    D = float(d.sum())
    _sum_rows(L, f"{b.name}__target", [(xo + np.arange(ne) * T + t, np.ones(ne)) for t in yrs],
              s[yrs] * D, np.full(len(yrs), np.inf))
    ff, tt = np.repeat(np.arange(nf), T), np.tile(ti, nf)
    L.add_cum_cost(b.name, tt, no + ff * T + tt, Ff[ff])
    L.const[b.name] = L.const.get(b.name, np.zeros(T)) - float((Ff * e_f).sum())
    if b.has_packs:
        # packs: ρ Σ_{e∋f} x_{e,t} − S n_{f,t} − q_{f,t} <= 0, q integer, cumulative, c per pack
        rho = np.asarray(b.packs_per_volume, float)[ft]
        inc = np.asarray(b.packs_included, float)[ft]
        c = np.asarray(b.pack_cost, float)[ft]
        q_ub = np.ceil(np.maximum(rho * cap[ft] - inc, 0.0) * ub_f - 1e-9)
        qo = L.add_var(f"{b.name}__packs", nf * T, "integer", 0.0, np.repeat(q_ub, T))
        L.add_rows(f"{b.name}__pack_need", np.r_[rf, kf, kf], np.r_[cc, no + kf, qo + kf],
                   np.r_[np.repeat(rho[a["fac"]], T), -np.repeat(inc, T), -np.ones(nf * T)],
                   np.full(nf * T, -np.inf), np.zeros(nf * T))
        _monotone(L, f"{b.name}__packs_monotone", qo, nf)
        L.add_cum_cost(b.name, tt, qo + ff * T + tt, c[ff])
        info["blocks"][b.name]["qo"] = qo
    if b.access_rate > 0:
        L.access_c.append(xo + np.arange(ne) * T + T - 1)
        L.access_v.append(b.access_rate * a["len"])
    if D > 0:
        ee, tt = np.repeat(np.arange(ne), T), np.tile(ti, ne)
        L.serv_c.append(xo + ee * T + tt)
        L.serv_v.append(np.full(len(ee), b.tier_weight / D))
        L.serv_t.append(tt)
    info["groups_fac"].append((b.name, a["fac_site"], M[ft], no))


# --------------------------------------------------------------------------- flow refuelling
def _define_flow(L: _Layout, b: FlowBlock, info: dict) -> None:
    T = L.T
    ex = np.asarray(b.existing, bool)
    m = len(ex)
    new = np.flatnonzero(~ex)
    pos = np.full(m, -1)
    pos[new] = np.arange(len(new))
    f = np.asarray(b.flows, float)
    hard = _years_mask(T, b.hard_from, b.hard)
    # sets (drop any met by an existing station)
    sizes = np.diff(b.set_indptr)
    set_of = np.repeat(np.arange(len(sizes)), sizes)
    met = np.zeros(len(sizes), bool)
    if len(b.set_sites):
        np.logical_or.at(met, set_of, ex[b.set_sites])
    keep = ~met
    paths_with_sets = np.zeros(len(f), bool)
    paths_with_sets[b.set_path[keep]] = True
    ypaths = np.flatnonzero(paths_with_sets & ~b.impossible & ~b.free)
    ypos = np.full(len(f), -1)
    ypos[ypaths] = np.arange(len(ypaths))
    free = (b.free | (~paths_with_sets & ~b.impossible)).astype(bool)
    nx_, ny = len(new), len(ypaths)
    cost = np.asarray(b.site_cost, float)[new] + info["fold"].get(b.name, np.zeros(m))[new]
    xo = L.add_var(f"{b.name}__x", nx_ * T, "binary")
    yo = L.add_var(f"{b.name}__y", ny * T, "real", 0.0, 1.0)
    ti = np.arange(T)
    # arc cover: Σ_{k∈K} x_{k,t} − y_{q,t} >= 0
    ks = np.flatnonzero(keep & (ypos[b.set_path] >= 0))
    info["blocks"][b.name] = {"new": new, "xo": xo, "yo": yo, "free": free, "cost": cost, "ypaths": ypaths,
                              "set_y": ypos[b.set_path[ks]], "memb_set": np.zeros(0, np.int64),
                              "memb_x": np.zeros(0, np.int64)}
    if len(ks):
        nk = len(ks)
        memb = keep[set_of] & (ypos[b.set_path[set_of]] >= 0)
        s_of, site = set_of[memb], b.set_sites[memb]
        srow = np.full(len(sizes), -1)
        srow[ks] = np.arange(nk)
        r1 = (srow[s_of][:, None] * T + ti).ravel()
        c1 = (xo + pos[site][:, None] * T + ti).ravel()
        r2 = (np.arange(nk)[:, None] * T + ti).ravel()
        c2 = (yo + ypos[b.set_path[ks]][:, None] * T + ti).ravel()
        info["blocks"][b.name].update(memb_set=srow[s_of], memb_x=pos[site])
        L.add_rows(f"{b.name}__arc_cover", np.r_[r1, r2], np.r_[c1, c2], np.r_[np.ones(len(r1)), -np.ones(len(r2))],
                   np.zeros(nk * T), np.full(nk * T, np.inf))
    # required covers (hard years)
    if hard.any():
        groups = []
        for cvr in b.covers:
            cvr = np.asarray(cvr)
            if ex[cvr].any():
                continue
            for t in np.flatnonzero(hard):
                groups.append((xo + pos[cvr] * T + t, np.ones(len(cvr))))
        _sum_rows(L, f"{b.name}__required_cover", groups, np.ones(len(groups)), np.full(len(groups), np.inf))
    _monotone(L, f"{b.name}__x_monotone", xo, nx_)
    Ftot = float(f.sum())
    f_free = float(f[free].sum())
    s = _targets(b, T)
    yrs = np.flatnonzero(np.isfinite(s) & (s > 0))
    if len(yrs):
        reachable = float(f[~b.impossible].sum())
        if reachable < s[yrs].max() * Ftot * (1 - 1e-12):
            bad = b.path_ids[b.impossible & (f > 0)]
            raise InfeasibleError(
                f"block {b.name!r}: at most {reachable / max(Ftot, 1e-12):.1%} of the flow can be refuelled, below the "
                f"target {s[yrs].max():.1%}; paths that cannot be refuelled: {preview_ids(bad)}", unserved=list(bad))
    _sum_rows(L, f"{b.name}__target", [(yo + np.arange(ny) * T + t, f[ypaths]) for t in yrs],
              s[yrs] * Ftot * (1 - 1e-9) - f_free, np.full(len(yrs), np.inf))
    if b.max_new_sites is not None:
        _sum_rows(L, f"{b.name}__max_sites", [(xo + np.arange(nx_) * T + T - 1, np.ones(nx_))],
                  np.array([-np.inf]), np.array([float(b.max_new_sites)]))
    jj, tt = np.repeat(np.arange(nx_), T), np.tile(ti, nx_)
    L.add_cum_cost(b.name, tt, xo + jj * T + tt, cost[jj])
    if Ftot > 0:
        qq, tt = np.repeat(np.arange(ny), T), np.tile(ti, ny)
        L.serv_c.append(yo + qq * T + tt)
        L.serv_v.append(b.tier_weight * f[ypaths][qq] / Ftot)
        L.serv_t.append(tt)
    info["groups_binary"].append((b.name, new, xo))


# --------------------------------------------------------------------------- forced / forbidden sites
def _site_mask(b: Block, key: str) -> np.ndarray | None:
    v = getattr(b, key, None)
    if v is None:
        return None
    v = np.asarray(v, bool).ravel()
    if len(v) != len(b.site_ids):
        raise DataError(f"block {b.name!r}: {key} has {len(v)} values for {len(b.site_ids)} sites")
    return v if v.any() else None


def _define_site_masks(L: _Layout, blocks: Sequence[Block], info: dict) -> None:
    """Forced sites open by the last year, forbidden sites never (bounds; one row per forced swap site)."""
    T = L.T
    var = {name: (lb, ub) for name, _, _, lb, ub in L.vars}
    for b in blocks:
        forced, forbidden = _site_mask(b, "forced"), _site_mask(b, "forbidden")
        if forced is None and forbidden is None:
            continue
        if forced is not None and forbidden is not None and (forced & forbidden).any():
            raise ConfigError(f"block {b.name!r}: sites {preview_ids(b.site_ids[forced & forbidden])} are both required "
                              "and forbidden (or inside an exclusion zone); drop one of the two rules")
        if isinstance(b, CapacitatedBlock):
            d = info["blocks"][b.name]
            fs = d["arcs"]["fac_site"]
            lb, ub = var[f"{b.name}__n"]
            if forbidden is not None:
                fb = np.flatnonzero(forbidden[fs] & (d["e_f"] == 0))
                ub[(fb[:, None] * T + np.arange(T)).ravel()] = 0.0
            if forced is not None:
                has = np.zeros(len(b.site_ids), bool)
                has[fs] = True
                none = forced & ~has
                if none.any():
                    raise InfeasibleError(f"block {b.name!r}: required site(s) {preview_ids(b.site_ids[none])} reach no "
                                          "demand of this tier, so no station can be placed there; drop the rule or "
                                          "check the site's position", unserved=[])
                groups = [(d["no"] + np.flatnonzero(fs == j) * T + T - 1, np.ones(int((fs == j).sum())))
                          for j in np.flatnonzero(forced)]
                _sum_rows(L, f"{b.name}__forced", groups, np.ones(len(groups)), np.full(len(groups), np.inf))
            continue
        d = info["blocks"][b.name]
        new = d["new"]
        lb, ub = var[f"{b.name}__x"]
        q = np.arange(len(new))
        if forbidden is not None:
            fq = q[forbidden[new]]
            ub[(fq[:, None] * T + np.arange(T)).ravel()] = 0.0
        if forced is not None:
            lb[q[forced[new]] * T + T - 1] = 1.0


# --------------------------------------------------------------------------- shared sites
def _fold_single_members(blocks: Sequence[Block], reg: SiteRegistry | None) -> tuple[dict, np.ndarray, np.ndarray]:
    """Shared cost of groups with one binary member and nothing else goes into that member's cost.

    Returns (fold per block, group existing flags, group needs-variable flags).
    """
    fold: dict[str, np.ndarray] = {}
    if reg is None:
        return fold, np.zeros(0, bool), np.zeros(0, bool)
    G = len(reg.group_ids)
    members = np.zeros(G, int)
    has_fac = np.zeros(G, bool)
    existing = np.zeros(G, bool)
    for b in blocks:
        g = np.asarray(reg.members[b.name])
        ok = g >= 0
        if isinstance(b, CapacitatedBlock):
            has_fac[g[ok]] = True
            members += np.bincount(g[ok], minlength=G)
            if b.existing is not None:
                ex_site = np.asarray(b.existing).sum(axis=1) > 0
                existing[g[ok & ex_site]] = True
        else:
            members += np.bincount(g[ok], minlength=G)
            ex = np.zeros(len(g), bool) if b.existing is None else np.asarray(b.existing, bool)
            existing[g[ok & ex]] = True
    cost = np.asarray(reg.shared_cost, float)
    single = (members == 1) & ~has_fac & ~existing & (cost > 0)
    for b in blocks:
        if isinstance(b, CapacitatedBlock):
            continue
        g = np.asarray(reg.members[b.name])
        add = np.zeros(len(g))
        ok = g >= 0
        add[ok] = np.where(single[g[ok]], cost[g[ok]], 0.0)
        fold[b.name] = add
    needs_var = ~existing & (cost > 0) & ~single & (members > 0)
    return fold, existing, needs_var


def _define_shared(L: _Layout, blocks: Sequence[Block], reg: SiteRegistry | None, info: dict) -> None:
    """Group open variables w_{g,t} with shared costs, and compatibility exclusions."""
    if reg is None or len(reg.group_ids) == 0:
        return
    T = L.T
    needs = info["group_needs_var"]
    gpos = np.full(len(needs), -1)
    gpos[needs] = np.arange(int(needs.sum()))
    ng = int(needs.sum())
    wo = L.add_var("shared__w", ng * T, "binary")
    info["shared"] = {"wo": wo, "gpos": gpos}
    ti = np.arange(T)
    r_parts, c_parts, v_parts = [], [], []
    nrow = 0
    links = []  # (block, site-level group array, cols at year t function)
    for name, new, xo in info["groups_binary"]:
        g = np.asarray(reg.members[name])[new]
        sel = np.flatnonzero((g >= 0) & (gpos[np.maximum(g, 0)] >= 0))
        for t in ti:
            links.append((xo + sel * T + t, np.ones(len(sel)), wo + gpos[g[sel]] * T + t))
    for name, fac_site, M, no in info["groups_fac"]:
        g = np.asarray(reg.members[name])[fac_site]
        sel = np.flatnonzero((g >= 0) & (gpos[np.maximum(g, 0)] >= 0))
        for t in ti:
            links.append((no + sel * T + t, 1.0 / M[sel], wo + gpos[g[sel]] * T + t))
    for cx, coef, cw in links:
        k = nrow + np.arange(len(cx))
        r_parts += [k, k]
        c_parts += [cx, cw]
        v_parts += [coef, -np.ones(len(cx))]
        nrow += len(cx)
    if nrow:
        L.add_rows("shared__link", np.concatenate(r_parts), np.concatenate(c_parts), np.concatenate(v_parts),
                   np.full(nrow, -np.inf), np.zeros(nrow))
    _monotone(L, "shared__w_monotone", wo, ng)
    cost = np.asarray(reg.shared_cost, float)
    gg, tt = np.repeat(np.flatnonzero(needs), T), np.tile(ti, ng)
    L.add_cum_cost("shared", tt, wo + gpos[gg] * T + tt, cost[gg])
    # compatibility: blocks in a group that may not share it
    names = [b.name for b in blocks]
    if reg.compatible is None:
        return
    ok_pairs = {frozenset(p) for p in reg.compatible}
    bad_pairs = [(a, c) for i, a in enumerate(names) for c in names[i + 1:] if frozenset((a, c)) not in ok_pairs]
    if not bad_pairs:
        return
    G = len(reg.group_ids)
    in_group = {}
    for b in blocks:
        g = np.asarray(reg.members[b.name])
        in_group[b.name] = np.zeros(G, bool)
        in_group[b.name][g[g >= 0]] = True
    conflict = np.zeros(G, bool)
    for a, c in bad_pairs:
        conflict |= in_group[a] & in_group[c]
    cg = np.flatnonzero(conflict)
    if not len(cg):
        return
    upos = {}
    keys = [(g, b.name) for g in cg for b in blocks if in_group[b.name][g]]
    uo = L.add_var("shared__u", len(keys), "binary")
    for k, key in enumerate(keys):
        upos[key] = uo + k
    rr, cc, vv = [], [], []
    nrow = 0
    for name, new, xo in info["groups_binary"]:
        g = np.asarray(reg.members[name])[new]
        for j in np.flatnonzero(np.isin(g, cg)):
            rr += [nrow, nrow]
            cc += [xo + j * T + T - 1, upos[(g[j], name)]]
            vv += [1.0, -1.0]
            nrow += 1
    for name, fac_site, M, no in info["groups_fac"]:
        g = np.asarray(reg.members[name])[fac_site]
        for f in np.flatnonzero(np.isin(g, cg)):
            rr += [nrow, nrow]
            cc += [no + f * T + T - 1, upos[(g[f], name)]]
            vv += [1.0 / M[f], -1.0]
            nrow += 1
    L.add_rows("shared__use", np.array(rr), np.array(cc), np.array(vv), np.full(nrow, -np.inf), np.zeros(nrow))
    groups = []
    for g in cg:
        for a, c in bad_pairs:
            if (g, a) in upos and (g, c) in upos:
                groups.append((np.array([upos[(g, a)], upos[(g, c)]]), np.ones(2)))
    _sum_rows(L, "shared__incompatible", groups, np.full(len(groups), -np.inf), np.ones(len(groups)))


# --------------------------------------------------------------------------- budgets, objective
def _define_budgets(L: _Layout, budgets: np.ndarray | None, total_budget: float | None, carry_over: bool) -> None:
    T = L.T
    Cm = L.cum_matrix().tocoo()
    K = L.const_cost()
    if budgets is not None:
        if carry_over:
            L.add_rows("budget", Cm.row, Cm.col, Cm.data, np.full(T, -np.inf), np.cumsum(budgets) - K)
        else:
            # C_t − C_{t−1} <= B_t − (K_t − K_{t−1})
            nxt = Cm.row + 1 < T
            r = np.r_[Cm.row, Cm.row[nxt] + 1]
            c = np.r_[Cm.col, Cm.col[nxt]]
            v = np.r_[Cm.data, -Cm.data[nxt]]
            L.add_rows("budget", r, c, v, np.full(T, -np.inf), budgets - np.diff(np.r_[0.0, K]))
    if total_budget is not None:
        last = Cm.row == T - 1
        L.add_rows("total_budget", np.zeros(int(last.sum()), np.int64), Cm.col[last], Cm.data[last],
                   np.array([-np.inf]), np.array([total_budget - K[-1]]))


def _objective(L: _Layout, objective: str, discount_rate: float, year_weight: np.ndarray,
               access_worst: float) -> tuple[np.ndarray, float, float]:
    """Objective coefficients over the columns, its constant and ε (``max_service``)."""
    T = L.T
    c = np.zeros(L.n)
    Cm = L.cum_matrix().tocoo()
    K = L.const_cost()
    acc_c = np.concatenate(L.access_c) if L.access_c else np.zeros(0, np.int64)
    acc_v = np.concatenate(L.access_v) if L.access_v else np.zeros(0)
    if objective == "min_cost":
        # ρ_t with a 1e-6-per-year preference for spending later (equal-cost plans build when needed)
        rho = (1.0 + discount_rate) ** -np.arange(T, dtype=float) * (1.0 - _DEFER * np.arange(T))
        mult = rho - np.r_[rho[1:], 0.0]  # Σ_t ρ_t (C_t − C_{t−1}) = Σ_t (ρ_t − ρ_{t+1}) C_t
        np.add.at(c, Cm.col, Cm.data * mult[Cm.row])
        np.add.at(c, acc_c, acc_v)
        return c, float((K * mult).sum()), 0.0
    ub = np.concatenate([v[4] for v in L.vars]) if L.vars else np.zeros(0)
    last = Cm.row == T - 1
    worst = float(np.abs(Cm.data[last] * ub[Cm.col[last]]).sum()) + access_worst + float(abs(K[-1]))
    eps = 0.5 / max(worst, 1.0)
    if L.serv_c:
        sc, sv, st = np.concatenate(L.serv_c), np.concatenate(L.serv_v), np.concatenate(L.serv_t)
        np.add.at(c, sc, _SERVICE_SCALE * sv * year_weight[st])
    last_c, last_v = Cm.col[last], Cm.data[last]
    np.add.at(c, last_c, -eps * last_v)
    np.add.at(c, acc_c, -eps * acc_v)
    return c, -eps * float(K[-1]), eps


def _to_arrays(L: _Layout, c: np.ndarray, const: float, sense: str) -> Any:
    """The model as a :class:`gzcharge.solve.ArrayModel`: one column block per block variable, one
    row block per constraint family (rows without columns dropped after the infeasibility check)."""
    from gzcharge.solve import ArrayModel

    mats, los, his, row_blocks = [], [], [], {}
    n_rows = 0
    for name, r, cc, v, lo, hi, nrow in L.rows:
        A = sp.csr_array((v, (r, cc)), shape=(nrow, L.n))
        A.sum_duplicates()
        empty = np.diff(A.indptr) == 0
        bad = empty & ((lo > 1e-9) | (hi < -1e-9))
        if bad.any():
            raise InfeasibleError(f"joint model: {int(bad.sum())} row(s) of {name!r} have nothing to choose but need a "
                                  "positive amount (a target no candidate can meet)")
        keep = np.flatnonzero(~empty)
        if not len(keep):
            continue
        mats.append(A[keep])
        los.append(np.asarray(lo, float)[keep])
        his.append(np.asarray(hi, float)[keep])
        row_blocks[name] = (n_rows, len(keep))
        n_rows += len(keep)
    lower = np.concatenate([lb for *_, lb, _ub in L.vars]) if L.vars else np.zeros(0)
    upper = np.concatenate([ub for *_, ub in L.vars]) if L.vars else np.zeros(0)
    integer = np.concatenate([np.full(n, d != "real") for _, n, d, _, _ in L.vars]) if L.vars else np.zeros(0, bool)
    return ArrayModel(
        c=np.asarray(c, float), a=sp.vstack(mats, format="csr") if mats else sp.csr_array((0, L.n)),
        row_lower=np.concatenate(los) if los else np.zeros(0), row_upper=np.concatenate(his) if his else np.zeros(0),
        lower=lower, upper=upper, integer=integer, blocks={name: (L.offset[name], n) for name, n, *_ in L.vars},
        row_blocks=row_blocks, offset=float(const), sense=sense, name="joint")


def _to_pyomo(L: _Layout, c: np.ndarray, const: float, sense: str) -> Any:
    """Pyomo model from the layout (the twin of :func:`_to_arrays`: the same arrays)."""
    return _to_arrays(L, c, const, sense).to_pyomo()


def _key(model: Any, name: str) -> Any:
    """Key of column block ``name`` for values / starts / fixings (ArrayModel: the name; Pyomo: the Var)."""
    from gzcharge.solve import ArrayModel

    return name if isinstance(model, ArrayModel) else model.component(name)


# =========================================================================== validation
def _check_coverage(b: CoverageBlock, T: int) -> None:
    """Array lengths and capacity parameters of a coverage block."""
    n, m = b.cover.shape
    for what, arr, size in (("site_ids", b.site_ids, m), ("site_cost", b.site_cost, m), ("weight", b.weight, n),
                            ("existing", b.existing, m), ("must", b.must, n), ("energy", b.energy, n),
                            ("existing_plugs", b.existing_plugs, m), ("max_plugs", b.max_plugs, m),
                            ("objective_weight", b.objective_weight, n)):
        if arr is not None and len(arr) != size:
            raise DataError(f"block {b.name!r}: {what} has {len(arr)} values for {size} "
                            f"{'sites' if size == m else 'demand rows'}")
    w = np.asarray(b.weight, float)
    if (~np.isfinite(w) | (w < 0)).any():
        raise DataError(f"block {b.name!r}: demand weights must be finite and >= 0")
    sig = _year_scale(b, T)
    if (~np.isfinite(sig) | (sig <= 0)).any():
        raise ConfigError(f"block {b.name!r}: year_scale must be finite and > 0 in every year, got {sig.tolist()}")
    if not b.capacitated:
        return
    e = np.asarray(b.energy, float)
    if (~np.isfinite(e) | (e < 0)).any():
        raise DataError(f"block {b.name!r}: energy must be finite and >= 0 per demand row")
    if not (np.isfinite(b.plug_capacity) and b.plug_capacity > 0):
        raise ConfigError(f"block {b.name!r}: plug_capacity must be > 0 (energy per plug per day), got "
                          f"{b.plug_capacity!r}")
    if not (np.isfinite(b.plug_cost) and b.plug_cost >= 0):
        raise ConfigError(f"block {b.name!r}: plug_cost must be finite and >= 0 CNY, got {b.plug_cost!r}")
    if int(b.min_plugs) != b.min_plugs or b.min_plugs < 0:
        raise ConfigError(f"block {b.name!r}: min_plugs must be a whole number >= 0, got {b.min_plugs!r}")
    if b.existing_plugs is not None:
        have = np.asarray(b.existing_plugs, float)
        if (np.isfinite(have) & (have < 0)).any():
            raise DataError(f"block {b.name!r}: existing_plugs must be >= 0 (NaN = unknown)")
    if b.max_plugs is not None:
        cap = np.asarray(b.max_plugs, float)
        low = np.isfinite(cap) & (cap < b.min_plugs)
        if low.any():
            raise DataError(f"block {b.name!r}: sites {preview_ids(b.site_ids[low])} hold at most {cap[low].min():g} "
                            f"plugs, fewer than the {b.min_plugs} every new station has (min_plugs); give them more "
                            "plugs or lower min_plugs")


def _check(blocks: Sequence[Block], years: Sequence[Any], budgets: Any, total_budget: Any, registry: SiteRegistry | None,
           objective: str, monotone_targets: bool, discount_rate: float) -> tuple[np.ndarray | None, float | None]:
    if not blocks:
        raise ConfigError("the joint model needs at least one tier block")
    names = [b.name for b in blocks]
    if len(set(names)) != len(names):
        raise ConfigError(f"joint model: block names must be unique, got {names}")
    T = len(years)
    if T == 0:
        raise ConfigError("joint.years is empty: give the plan years, e.g. [2022, 2023, 2024, 2025]")
    if len(set(years)) != T or list(years) != sorted(years):
        raise ConfigError(f"joint.years must be increasing and distinct, got {list(years)}")
    if objective not in ("min_cost", "max_service"):
        raise ConfigError(f"joint objective must be 'min_cost' or 'max_service', got {objective!r}")
    if not (np.isfinite(discount_rate) and discount_rate > -1):
        raise ConfigError(f"discount_rate must be > -1, got {discount_rate!r}")
    B = None
    if budgets is not None:
        B = np.asarray(budgets, float).ravel()
        if len(B) != T:
            raise ConfigError(f"joint budgets: {len(B)} yearly budgets for {T} years {list(years)}; give one budget per "
                              "year (CNY)")
        if not np.all(np.isfinite(B)) or (B < 0).any():
            raise ConfigError(f"joint budgets must be finite and >= 0 CNY, got {B.tolist()}")
    tb = None
    if total_budget is not None:
        tb = float(total_budget)
        if not np.isfinite(tb) or tb < 0:
            raise ConfigError(f"joint total budget must be finite and >= 0 CNY, got {total_budget!r}")
    if objective == "max_service" and B is None and tb is None and \
            not any(getattr(b, "max_new_sites", None) is not None for b in blocks):
        raise ConfigError("joint objective 'max_service' needs yearly budgets and/or a total budget (or a site limit, "
                          "max_new_sites, on a block)")
    for b in blocks:
        s = _targets(b, T)
        fin = s[np.isfinite(s)]
        if ((fin < 0) | (fin > 1)).any():
            raise ConfigError(f"block {b.name!r}: target shares must be in [0, 1], got {s.tolist()}")
        if monotone_targets and (np.diff(fin) < -1e-12).any():
            raise ConfigError(f"block {b.name!r}: target shares decrease over the years ({s.tolist()}); targets by "
                              "year must not fall (or set monotone_targets=false)")
        _years_mask(T, b.hard_from, b.hard)
        if isinstance(b, CoverageBlock):
            _check_coverage(b, T)
        elif isinstance(b, CapacitatedBlock):
            n, m = b.dist.shape
            if len(b.site_ids) != m or len(b.volume) != n or len(b.demand_type) != n:
                raise DataError(f"block {b.name!r}: site_ids/volume/demand_type do not match the {n} × {m} arc matrix")
        else:
            if len(b.site_cost) != len(b.site_ids) or len(b.existing) != len(b.site_ids):
                raise DataError(f"block {b.name!r}: site_cost/existing do not match the {len(b.site_ids)} sites")
        cost = np.asarray(getattr(b, "site_cost", getattr(b, "unit_cost", [])), float)
        own = getattr(b, "station_cost", None)
        if own is not None:
            cost = np.r_[cost, np.nan_to_num(np.asarray(own, float).ravel(), nan=0.0)]
        if (~np.isfinite(cost) | (cost < 0)).any():
            raise DataError(f"block {b.name!r}: costs must be finite and >= 0")
    if registry is not None:
        G = len(registry.group_ids)
        if len(registry.shared_cost) != G:
            raise DataError(f"site registry: {len(registry.shared_cost)} shared costs for {G} groups")
        sc = np.asarray(registry.shared_cost, float)
        if (~np.isfinite(sc) | (sc < 0)).any():
            raise DataError("site registry: shared costs must be finite and >= 0 CNY")
        unknown = sorted(set(registry.members) - set(names))
        if unknown:
            raise ConfigError(f"site registry names unknown tiers {unknown}; tiers in the model: {names}")
        for b in blocks:
            g = registry.members.get(b.name)
            if g is None:
                registry.members[b.name] = np.full(len(b.site_ids), -1)
                continue
            if len(g) != len(b.site_ids) or (np.asarray(g) >= G).any():
                raise DataError(f"site registry: members of {b.name!r} must give a group position (< {G}) or -1 for "
                                f"each of its {len(b.site_ids)} sites")
        for pair in registry.compatible or []:
            if len(pair) != 2:
                raise ConfigError(f"compatibility rule {pair!r} must name two tiers")
            bad = [p for p in pair if p not in names]
            if bad:
                raise ConfigError(f"compatibility rule {list(pair)} names unknown tier(s) {bad}; tiers in the model: "
                                  f"{names}")
    return B, tb


# =========================================================================== entry points
def build_joint_model(
    blocks: Sequence[Block],
    *,
    years: Sequence[Any],
    budgets: Sequence[float] | None = None,
    total_budget: float | None = None,
    carry_over: bool = False,
    registry: SiteRegistry | None = None,
    objective: str = "min_cost",
    discount_rate: float = 0.0,
    year_weight: Sequence[float] | None = None,
    monotone_targets: bool = True,
    relax_plugs: bool = False,
    as_arrays: bool = False,
) -> tuple[Any, dict]:
    """Build the model (see the module docstring); returns ``(model, info)``.

    The model is a Pyomo ``ConcreteModel`` (for inspection/export), or with ``as_arrays`` the
    :class:`gzcharge.solve.ArrayModel` it is made from (what :func:`solve_joint` hands HiGHS).

    ``info`` holds the column layout needed to read a solution (used by :func:`solve_joint`).
    ``relax_plugs`` makes the plug columns of capacitated coverage blocks continuous (a
    relaxation: its bound is a bound of the model).
    """
    t0 = time.perf_counter()
    B, tb = _check(blocks, years, budgets, total_budget, registry, objective, monotone_targets, discount_rate)
    T = len(years)
    L = _Layout(T)
    fold, g_exist, g_needs = _fold_single_members(blocks, registry)
    info: dict[str, Any] = {"blocks": {}, "fold": fold, "groups_binary": [], "groups_fac": [], "group_existing": g_exist,
                            "group_needs_var": g_needs, "layout": L, "years": list(years), "objective": objective,
                            "relax_plugs": relax_plugs}
    access_worst = 0.0
    for b in blocks:
        if isinstance(b, CoverageBlock):
            _define_coverage(L, b, info)
        elif isinstance(b, CapacitatedBlock):
            _define_capacitated(L, b, info)
            a = info["blocks"][b.name]["arcs"]
            access_worst += float((b.access_rate * a["len"] * np.asarray(b.volume, float)[a["row"]]).sum())
        elif isinstance(b, FlowBlock):
            _define_flow(L, b, info)
        else:
            raise ConfigError(f"unknown block type {type(b).__name__}")
    _define_site_masks(L, blocks, info)
    _define_shared(L, blocks, registry, info)
    _define_budgets(L, B, tb, carry_over)
    yw = np.ones(T) if year_weight is None else np.asarray(year_weight, float)
    if len(yw) != T:
        raise ConfigError(f"year_weight has {len(yw)} values for {T} years")
    c, const, eps = _objective(L, objective, discount_rate, yw, access_worst)
    model = (_to_arrays if as_arrays else _to_pyomo)(L, c, const, "min" if objective == "min_cost" else "max")
    info.update(eps=eps, year_weight=yw, discount_rate=discount_rate, build_s=time.perf_counter() - t0,
                n_cols=L.n, n_int=int(sum(n for _, n, d, _, _ in L.vars if d != "real")),
                n_rows=int(sum(r[6] for r in L.rows)), nnz=int(sum(len(r[1]) for r in L.rows)))
    return model, info


def solve_joint(
    blocks: Sequence[Block],
    *,
    years: Sequence[Any],
    budgets: Sequence[float] | None = None,
    total_budget: float | None = None,
    carry_over: bool = False,
    registry: SiteRegistry | None = None,
    objective: str = "min_cost",
    discount_rate: float = 0.0,
    year_weight: Sequence[float] | None = None,
    monotone_targets: bool = True,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-4,
    threads: int | None = None,
    warm_start: bool = True,
    deadline: Any = None,
    start_x: np.ndarray | None = None,
) -> JointSolution:
    """Build and solve the joint model; report sites, groups, costs and service by year, by id.

    Parameters
    ----------
    blocks
        Tier blocks (:class:`CoverageBlock`, :class:`CapacitatedBlock`, :class:`FlowBlock`).
    years
        Year labels (increasing), ``T = len(years)``.
    budgets
        Budget per year (CNY), or None.
    total_budget
        Budget over all years (CNY), or None.
    carry_over
        Unspent budget moves to the next year.
    registry
        Shared site groups (None: every site stands alone).
    objective
        ``"min_cost"`` or ``"max_service"``.
    discount_rate
        ``r`` for the present value of later spend (``min_cost``).
    year_weight
        Weight of each year's service (``max_service``; default 1 each).
    monotone_targets
        Reject target shares that fall over the years.
    time_limit_s, mip_rel_gap, threads
        Solver options (:func:`gzcharge.solve.solve`). ``time_limit_s`` bounds the whole call:
        the warm start, the staged solves, the main solve and the lexicographic second stage
        share one :class:`gzcharge.solve.Deadline`, each phase getting (a share of) what is left.
    deadline
        A deadline of the caller (the tighter of it and ``time_limit_s`` applies).
    start_x
        A full column vector to start from (e.g. ``JointSolution.values["x"]`` of a solve of the
        same blocks with tighter budgets); used instead of the warm start when it meets every row
        of this model (``size["warm_start"] == "given"``).
    warm_start
        With several years, first solve the last year alone (its targets and hard rules, the
        whole budget). With yearly budgets, give that plan build years that meet every year's
        targets within the budgets (greedy, see :func:`_phased_vector`; checked against every
        row of the model) and start from it; without yearly budgets, or when no such phasing is
        found, start from "everything of that plan built in the first year".
        ``size["warm_start"]`` says which (``phased``, ``last_year``, ``none``).

    Raises
    ------
    ConfigError
        Inconsistent years/budgets/targets, unknown tiers in compatibility rules.
    DataError
        Array lengths that do not match.
    InfeasibleError
        Targets the budgets cannot pay for (or no candidate can meet).
    """
    from gzcharge.solve import Deadline, solve

    t0 = time.perf_counter()
    dl_all = Deadline.of(deadline, time_limit_s)
    lex = [b for b in blocks if getattr(b, "then_max_service", False) and float(np.sum(b.flows)) > 0]
    lex_stage = objective == "min_cost" and len(years) == 1 and bool(lex)
    # the lexicographic second stage gets what the first leaves, but the first at most half
    dl = Deadline.of(dl_all, dl_all.share(0.5) if lex_stage and dl_all.limited else None)
    model, info = build_joint_model(blocks, years=years, budgets=budgets, total_budget=total_budget,
                                    carry_over=carry_over, registry=registry, objective=objective,
                                    discount_rate=discount_rate, year_weight=year_weight,
                                    monotone_targets=monotone_targets, as_arrays=True)
    L: _Layout = info["layout"]
    start, start_kind = None, "none"
    if start_x is not None:
        sx = np.asarray(start_x, float)
        bad = ["length"] if len(sx) != L.n else _violations(L, sx)
        if not bad:
            start, start_kind = _start_map(model, L, sx), "given"
        else:
            logger.info("joint: the given start does not fit this model (%s)", bad[:3])
    if start is None and warm_start and len(years) > 1:
        start, start_kind = _warm_start(blocks, model, info, registry=registry, budgets=budgets,
                                        total_budget=total_budget, carry_over=carry_over, objective=objective,
                                        time_limit_s=dl.left(), mip_rel_gap=mip_rel_gap, threads=threads,
                                        deadline=dl)
    capacitated = any(isinstance(b, CoverageBlock) and b.capacitated for b in blocks)
    build_kw = dict(years=years, budgets=budgets, total_budget=total_budget, carry_over=carry_over, registry=registry,
                    objective=objective, discount_rate=discount_rate, year_weight=year_weight,
                    monotone_targets=monotone_targets)
    try:
        if capacitated and warm_start and len(years) == 1 and start is None:
            res, start_kind = _staged_solve(blocks, model, info, build_kw, time_limit_s=dl.left(),
                                            mip_rel_gap=mip_rel_gap, threads=threads, deadline=dl)
        else:
            try:
                res = solve(model, mip_rel_gap=mip_rel_gap, threads=threads, warm_start=start, load_solution=False,
                            deadline=dl)
            except SolverError as exc:
                # HiGHS ran out of time without taking the start: a start that meets every row of this model is
                # the best plan known — return it, with an unknown bound, rather than nothing
                if start is None or start_kind == "none":
                    raise
                sx = np.concatenate([np.asarray(start[_key(model, name)], float) for name, *_ in L.vars]) \
                    if L.vars else np.zeros(0)
                bad = _violations(L, sx)
                if bad:  # e.g. "everything in the first year" breaks the yearly budgets
                    raise SolverError(f"{exc}; the warm start is no plan either (it violates {', '.join(bad[:3])})") \
                        from None
                logger.warning("joint: the main solve found no plan of its own (%s); returning the %s start", exc,
                               start_kind)
                res = _StartResult(start, time.perf_counter() - t0)
                start_kind = f"{start_kind} (returned as the plan)"
    except InfeasibleError as exc:
        raise InfeasibleError(
            f"the joint plan is infeasible: the yearly targets and hard rules cannot be met within the budgets "
            f"({budgets if budgets is not None else total_budget}); raise the budgets, enable carry_over, lower or "
            f"delay the targets ({exc})") from None
    x = np.concatenate([np.asarray(res.values(_key(model, name)), float) for name, *_ in L.vars]) \
        if L.vars else np.zeros(0)
    is_int = np.concatenate([np.full(n, d != "real") for _, n, d, _, _ in L.vars]) if L.vars else np.zeros(0, bool)
    x[is_int] = np.round(x[is_int])
    sol = _read(blocks, registry, info, x)
    T = L.T
    cum = L.cum_matrix() @ x + L.const_cost()
    acc_c = np.concatenate(L.access_c) if L.access_c else np.zeros(0, np.int64)
    acc_v = np.concatenate(L.access_v) if L.access_v else np.zeros(0)
    access = float(acc_v @ x[acc_c]) if len(acc_c) else 0.0
    if objective == "min_cost":
        rho = (1.0 + discount_rate) ** -np.arange(T, dtype=float)
        obj = float((rho * np.diff(np.r_[0.0, cum])).sum()) + access
        bound = float(res.bound) if np.isfinite(float(res.bound)) else -np.inf
        lb1 = info.get("last_year_bound")
        if lb1 is not None:
            # Σ_t ρ_t ΔC_t + access >= min(1, ρ_T)·(C_T + access) (ΔC_t >= 0: nothing built is removed), and
            # C_T + access is the cost of a plan of the last year alone (>= its bound): a bound when HiGHS
            # stops before its own (province, five yearly budgets: gap "inf" -> about 10 %)
            bound = max(bound, min(1.0, float(rho[-1])) * lb1)
        bound = min(bound, obj) if np.isfinite(bound) else float(res.bound)
    else:
        sv = sol["service"]
        wmap = dict(zip([b.name for b in blocks], [b.tier_weight for b in blocks], strict=True))
        yidx = {y: k for k, y in enumerate(years)}
        obj = float((sv["share"] * sv["block"].map(wmap) * sv["year"].map(yidx).map(lambda k: info["year_weight"][k])).sum())
        bound = max((float(res.bound) + info["eps"] * (cum[-1] + access)) / _SERVICE_SCALE, obj) \
            if np.isfinite(res.bound) else float("inf")
    gap = abs(obj - bound) / max(abs(obj), 1e-9) if np.isfinite(bound) else float("inf")
    if res.status.value == "optimal" and gap < 1e-9:
        gap = 0.0
    size = {"columns": info["n_cols"], "integer_columns": info["n_int"], "rows": info["n_rows"], "nonzeros": info["nnz"],
            "build_s": info["build_s"], "solve_s": res.seconds, "years": T, "blocks": len(blocks),
            "access_cny": access, "warm_start": start_kind, "last_year_bound": info.get("last_year_bound"), **{k: v for k, v in res.details.items() if k in ("mip_node_count", "highs_status")}}
    logger.info("joint model: %d columns (%d integer), %d rows, %d nonzeros; %s, gap %.3g", info["n_cols"],
                info["n_int"], info["n_rows"], info["nnz"], res.status.value, gap)
    out = JointSolution(sites=sol["sites"], groups=sol["groups"], costs=sol["costs"], service=sol["service"],
                        status=str(res.status.value), objective=obj, bound=bound, gap=float(gap),
                        seconds=time.perf_counter() - t0, size=size, values={"x": x}, assignment=sol["assignment"],
                        objective_kind=objective)
    from gzcharge.locate._common import Status

    if lex_stage and Status(out.status).has_solution:
        # lexicographic: the most service among the cheapest plans (cost of the first solve as the budget)
        cheapest = float(cum[-1])
        cap = cheapest * (1 + 1e-9) + 1e-6
        try:
            stage2 = solve_joint(blocks, years=years, budgets=budgets,
                                 total_budget=cap if total_budget is None else min(float(total_budget), cap),
                                 carry_over=carry_over, registry=registry, objective="max_service",
                                 discount_rate=discount_rate, year_weight=year_weight,
                                 monotone_targets=monotone_targets, mip_rel_gap=mip_rel_gap, threads=threads,
                                 warm_start=warm_start, deadline=dl_all)
        except SolverError as exc:  # no time left for the second stage: the cheapest plan stands
            logger.warning("joint: no most-service plan at the cheapest cost within the time limit (%s)", exc)
            return out
        stage2.size["stages"] = [{"objective": "min_cost", "objective_value": obj, "gap": out.gap,
                                  "status": out.status},
                                 {"objective": "max_service", "objective_value": stage2.objective,
                                  "gap": stage2.gap, "status": stage2.status}]
        stage2.seconds = time.perf_counter() - t0
        return stage2
    return out


def _staged_solve(blocks: Sequence[Block], model: Any, info: dict, build_kw: dict, *, time_limit_s: float | None,
                  mip_rel_gap: float, threads: int | None, deadline: Any = None) -> tuple[Any, str]:
    """One year with capacitated coverage: two quick plans and a bound, then the full model from the best plan.

    1. The model with continuous plugs (a relaxation: its bound bounds the model), then integer
       plugs and assignment for its sites (the full model with those sites fixed: quick, it falls
       apart by site clusters, and within a cluster the whole-plug rounding is collective).
    0. Only when those sites with whole plugs break a budget: the model without capacity (plugs
       and assignment dropped) and integer plugs for its sites.
    2. Unless the plan is within ``mip_rel_gap`` of stage 1's bound: the full model from that
       plan as MIP start, in the time left.

    Returns the result of the best plan found, with ``bound`` the tighter of the bounds, and the
    start kind ``"staged"``.
    """
    from dataclasses import replace as dc_replace

    from gzcharge.locate._common import Status
    from gzcharge.solve import Deadline, PersistentSolver, solve

    t0 = time.perf_counter()
    maximise = info["objective"] != "min_cost"
    dl = Deadline.of(deadline, time_limit_s)

    def left(share: float) -> float | None:
        return dl.share(share, floor=1.0)

    def better(a: Any, b: Any) -> bool:
        return b is None or ((a.objective > b.objective) if maximise else (a.objective < b.objective))

    ps = PersistentSolver(model, threads=threads)

    def with_sites(m_: Any, r_: Any, share: float) -> Any:
        """The full model restricted to the sites of ``r_``: the others fixed closed, those free.

        (Fixing its open sites open as well broke the budget on 安顺市's budget fallback when whole
        plugs cost more than the continuous ones; the restriction keeps a plan within reach.)
        """
        def sites(b: Block) -> np.ndarray:
            v = np.asarray(r_.values(_key(m_, f"{b.name}__x")), float)
            return np.where(v < 0.5, 0.0, np.nan)

        fix = {_key(model, f"{b.name}__x"): sites(b) for b in blocks if isinstance(b, CoverageBlock | FlowBlock)}
        try:
            return ps.solve(time_limit_s=left(share), mip_rel_gap=mip_rel_gap, fix=fix, load_solution=False,
                            deadline=dl)
        except (InfeasibleError, SolverError):  # those sites with integer plugs break a budget
            return None

    best = None
    bound1 = -np.inf if not maximise else np.inf
    # 0. a quick plan: the model without capacity (plugs and assignment dropped), whole plugs for its
    #    sites (province, loaded machine: 8 s to a plan where the model with continuous plugs found
    #    nothing in 12 s -- its dual-simplex root LP alone took 38 s)
    plain = [replace_block(b, energy=None) if isinstance(b, CoverageBlock) else b for b in blocks]
    try:
        m0, _ = build_joint_model(plain, as_arrays=True, **build_kw)
        r0 = solve(m0, time_limit_s=left(0.2), mip_rel_gap=mip_rel_gap, threads=threads,
                   deadline=dl, load_solution=False)
        best = with_sites(m0, r0, 0.2)
        if np.isfinite(float(r0.bound)):
            # dropping plugs, their cost and the assignment relaxes the model: its bound is one too (province,
            # last year alone: 3.06e9 where HiGHS's own bound on the model with plugs was 1.16e9 at its limit)
            bound1 = float(r0.bound)
    except (InfeasibleError, SolverError) as exc:
        logger.info("joint: no plan from the model without capacity (%s)", exc)
    # 1. the model with continuous plugs (a relaxation: its bound bounds the model), from that plan,
    #    then whole plugs for its sites
    m1, _ = build_joint_model(blocks, relax_plugs=True, as_arrays=True, **build_kw)
    start1 = None if best is None else {_key(m1, name): np.asarray(best.values(_key(model, name)), float)
                                        for name, *_ in info["layout"].vars}
    try:
        r1 = solve(m1, time_limit_s=left(0.5), mip_rel_gap=mip_rel_gap, threads=threads, deadline=dl,
                   load_solution=False, warm_start=start1)
        b1 = float(r1.bound)
        if np.isfinite(b1):
            bound1 = min(b1, bound1) if maximise else max(b1, bound1)
        r2 = with_sites(m1, r1, 0.3)
        logger.info("joint: continuous plugs %.8g (bound %.8g, %s); whole plugs for its sites %s", r1.objective,
                    r1.bound, r1.status.value, "none" if r2 is None else f"{r2.objective:.8g}")
        if r2 is not None and better(r2, best):
            best = r2
    except SolverError as exc:
        logger.info("joint: the model with continuous plugs found nothing in its time (%s)", exc)

    def tighter(b: float) -> float:
        return min(b, bound1) if maximise else max(b, bound1)

    if best is not None:
        gap = abs(best.objective - bound1) / max(abs(best.objective), 1e-9)
        if gap <= mip_rel_gap:
            logger.info("joint: a staged plan is within the gap (%.3g)", gap)
            return dc_replace(best, status=Status.OPTIMAL, bound=tighter(bound1), gap=gap,
                              seconds=time.perf_counter() - t0), "staged"
    start = None
    if best is not None:
        start = {_key(model, name): np.asarray(best.values(_key(model, name)), float)
                 for name, *_ in info["layout"].vars}
    try:
        r3 = ps.solve(time_limit_s=left(1.0), mip_rel_gap=mip_rel_gap, warm_start=start, load_solution=False,
                      deadline=dl)
    except SolverError:
        if best is None:
            raise
        r3 = None
    if r3 is None:  # no time left for the full model: the staged plan stands
        gap = abs(best.objective - bound1) / max(abs(best.objective), 1e-9) if np.isfinite(bound1) else np.inf
        status = Status.OPTIMAL if gap <= mip_rel_gap else Status.TIME_LIMIT_FEASIBLE
        return dc_replace(best, status=status, bound=bound1, gap=gap, seconds=time.perf_counter() - t0), "staged"
    logger.info("joint: full model from the staged plan: %.8g (%s)", r3.objective, r3.status.value)
    if better(r3, best):
        best = r3
    # HiGHS may label a returned start "optimal" (FIELD-NOTES): the status follows the gap to the bounds
    b3 = float(r3.bound)
    b3_ok = np.isfinite(b3) and ((b3 >= best.objective - 1e-9 * abs(best.objective)) if maximise
                                 else (b3 <= best.objective + 1e-9 * abs(best.objective)))
    bound = tighter(b3) if b3_ok else bound1
    gap = abs(best.objective - bound) / max(abs(best.objective), 1e-9)
    status = Status.OPTIMAL if gap <= mip_rel_gap else Status.TIME_LIMIT_FEASIBLE
    return dc_replace(best, status=status, bound=bound, gap=gap, seconds=time.perf_counter() - t0), "staged"

def _first_year(X: np.ndarray) -> np.ndarray:
    """Index of the first year a cumulative 0/1 row is on (-1: never)."""
    on = X > 0.5
    return np.where(on.any(axis=1), on.argmax(axis=1), -1)


def _read(blocks: Sequence[Block], reg: SiteRegistry | None, info: dict, x: np.ndarray) -> dict:
    """Sites, groups, costs and service by year from a solution vector."""
    L: _Layout = info["layout"]
    T = L.T
    years = info["years"]
    ylab = np.array(years, dtype=object)
    site_rows, serv_rows, cost_rows = [], [], []
    assign_parts: list[pd.DataFrame] = []
    group_first: dict[int, list] = {}
    for b in blocks:
        bi = info["blocks"][b.name]
        members = None if reg is None else np.asarray(reg.members.get(b.name, np.full(len(b.site_ids), -1)))

        def gid(pos: int, members: np.ndarray | None = members) -> Any:
            return None if members is None or members[pos] < 0 else reg.group_ids[members[pos]]

        if isinstance(b, CapacitatedBlock):
            a = bi["arcs"]
            nf, ne = len(a["fac_site"]), len(a["row"])
            N = x[bi["no"]: bi["no"] + nf * T].reshape(nf, T)
            Fl = x[bi["xo"]: bi["xo"] + ne * T].reshape(ne, T)
            first = np.where((N > bi["e_f"][:, None] + 0.5).any(axis=1), (N > bi["e_f"][:, None] + 0.5).argmax(axis=1), -1)
            served = Fl.sum(axis=0)
            D = float(np.sum(b.volume))
            for t in range(T):
                serv_rows.append({"block": b.name, "year": years[t], "served": float(served[t]), "total": D,
                                  "share": float(served[t] / D) if D > 0 else 1.0})
            fac_served = np.bincount(a["fac"], weights=Fl[:, -1], minlength=nf) if ne else np.zeros(nf)
            Q = x[bi["qo"]: bi["qo"] + nf * T].reshape(nf, T) if "qo" in bi else np.zeros((nf, T))
            for f in np.flatnonzero(N[:, -1] > 0.5):
                s = int(a["fac_site"][f])
                k = int(a["fac_type"][f])
                station = float((N[f, -1] - bi["e_f"][f]) * b.fac_cost(a["fac_site"][f:f + 1], a["fac_type"][f:f + 1])[0])
                packs = float(Q[f, -1] * b.pack_cost[k]) if b.has_packs else 0.0
                row = {"block": b.name, "site_id": b.site_ids[s], "group_id": gid(s), "existing": bool(bi["e_f"][f] > 0),
                       "build_year": ylab[first[f]] if first[f] >= 0 else None,
                       "cost_cny": station + packs, "station_type": b.type_names[k], "n_stations": int(N[f, -1]),
                       "served": float(fac_served[f]), "extra_packs": int(Q[f, -1]), "pack_cost_cny": packs}
                row.update({f"n_{years[t]}": int(N[f, t]) for t in range(T)})
                site_rows.append(row)
                if members is not None and members[s] >= 0:
                    group_first.setdefault(int(members[s]), []).append(
                        (first[f] if not row["existing"] else -2, b.name))
            continue
        new = bi["new"]
        X = x[bi["xo"]: bi["xo"] + len(new) * T].reshape(len(new), T)
        first = _first_year(X)
        ex = np.zeros(len(b.site_ids), bool) if b.existing is None else np.asarray(b.existing, bool)
        open_t = np.zeros((len(b.site_ids), T), bool)
        open_t[ex] = True
        open_t[new] = X > 0.5
        cap = isinstance(b, CoverageBlock) and b.capacitated
        P = _coverage_plugs(b, bi, x, open_t) if cap else None
        for s in np.flatnonzero(open_t[:, -1]):
            is_new = not ex[s]
            k = int(np.searchsorted(new, s)) if is_new else -1
            fy = first[k] if is_new else -1
            row = {"block": b.name, "site_id": b.site_ids[s], "group_id": gid(s), "existing": bool(ex[s]),
                   "build_year": ylab[fy] if fy >= 0 else None, "cost_cny": float(bi["cost"][k]) if is_new else 0.0}
            if P is not None:
                base = float(b.min_plugs) if is_new else float(bi["standing"][s])
                row["cost_cny"] += float(b.plug_cost) * max(0.0, float(P[s, -1]) - base)
                row["plugs"] = int(P[s, -1])
                row.update({f"plugs_{years[t]}": int(P[s, t]) for t in range(T)})
            site_rows.append(row)
            if members is not None and members[s] >= 0:
                group_first.setdefault(int(members[s]), []).append((fy if is_new else -2, b.name))
        if isinstance(b, CoverageBlock):
            cover = sp.csr_array(b.cover).astype(bool).astype(float)
            w = np.asarray(b.weight, float)
            W = float(w.sum())
            for t in range(T):
                cov = (cover @ open_t[:, t].astype(float)) > 0.5
                serv_rows.append({"block": b.name, "year": years[t], "served": float(w[cov].sum()), "total": W,
                                  "share": float(w[cov].sum() / W) if W > 0 else 1.0})
            if cap:
                assign_parts.append(_coverage_assignment(b, bi, x, open_t, years))
        else:
            f = np.asarray(b.flows, float)
            Ftot = float(f.sum())
            for t in range(T):
                ok = _refuelled(b, open_t[:, t])
                serv_rows.append({"block": b.name, "year": years[t], "served": float(f[ok].sum()), "total": Ftot,
                                  "share": float(f[ok].sum() / Ftot) if Ftot > 0 else 1.0})
    # costs per owner and year
    owners = list(dict.fromkeys([*L.cum_owner, *L.const.keys()]))
    for o in owners:
        cum = L.cum_matrix(o) @ x + L.const_cost(o)
        spend = np.diff(np.r_[0.0, cum])
        for t in range(T):
            cost_rows.append({"block": o, "year": years[t], "cost_cny": float(spend[t])})
    costs = pd.DataFrame(cost_rows, columns=["block", "year", "cost_cny"])
    # groups
    g_rows = []
    if reg is not None:
        wo = info.get("shared", {}).get("wo")
        gpos = info.get("shared", {}).get("gpos")
        for g, lst in sorted(group_first.items()):
            ex_g = bool(info["group_existing"][g]) or any(fy == -2 for fy, _ in lst)
            if gpos is not None and gpos[g] >= 0:
                W_ = x[wo + gpos[g] * T: wo + gpos[g] * T + T]
                fy = int(np.argmax(W_ > 0.5)) if (W_ > 0.5).any() else -1
            else:
                fys = [f for f, _ in lst if f >= 0]
                fy = min(fys) if fys else -1
            paid = 0.0 if ex_g else float(reg.shared_cost[g])
            g_rows.append({"group_id": reg.group_ids[g], "blocks": ",".join(sorted({n for _, n in lst})),
                           "existing": ex_g, "build_year": None if ex_g or fy < 0 else ylab[fy], "shared_cost_cny": paid})
    groups = pd.DataFrame(g_rows, columns=["group_id", "blocks", "existing", "build_year", "shared_cost_cny"])
    cols = ["block", "site_id", "group_id", "existing", "build_year", "cost_cny", "station_type", "n_stations"]
    sites = pd.DataFrame(site_rows)
    for c in cols:
        if c not in sites.columns:
            sites[c] = pd.Series(dtype=object)
    extra = [c for c in sites.columns if c not in cols]
    acols = ["block", "year", "demand_id", "site_id", "energy"]
    assignment = pd.concat(assign_parts, ignore_index=True) if assign_parts else pd.DataFrame(columns=acols)
    return {"sites": sites[cols + extra], "groups": groups, "costs": costs,
            "service": pd.DataFrame(serv_rows, columns=["block", "year", "served", "total", "share"]),
            "assignment": assignment}


def _coverage_plugs(b: CoverageBlock, bi: dict, x: np.ndarray, open_t: np.ndarray) -> np.ndarray:
    """Plugs per site and year (``m × T``): the model's plugs where it has them, else ``min_plugs`` / standing."""
    T = open_t.shape[1]
    m = len(b.site_ids)
    base = np.where(np.asarray(b.existing if b.existing is not None else np.zeros(m), bool), bi["standing"],
                    float(b.min_plugs))
    P = np.where(open_t, base[:, None], 0.0)
    ps = bi["psites"]
    if len(ps):
        P[ps] = np.round(x[bi["po"]: bi["po"] + len(ps) * T].reshape(len(ps), T))
        P[ps] = np.where(open_t[ps], P[ps], 0.0)
    return P


def _coverage_assignment(b: CoverageBlock, bi: dict, x: np.ndarray, open_t: np.ndarray, years: list) -> pd.DataFrame:
    """Energy of each demand row served at each site and year, from the model's group assignment.

    A covered group's flows are scaled to exactly its demand ``σ_t E_G`` (the model may assign
    more where capacity is slack) and split among the group's rows by their energy (they share
    one cover set, so any split is feasible).
    """
    T = open_t.shape[1]
    ga, ja, Eg, sig = bi["ga"], bi["ja"], bi["Eg"], bi["sig"]
    na = len(ga)
    cols = ["block", "year", "demand_id", "site_id", "energy"]
    if not na:
        return pd.DataFrame(columns=cols)
    F = np.maximum(x[bi["fo"]: bi["fo"] + na * T].reshape(na, T), 0.0)
    F = np.where(open_t[ja], F, 0.0)
    ng = len(Eg)
    covered = (bi["CG"] @ open_t.astype(float)) > 0.5  # ng × T
    tot = np.zeros((ng, T))
    np.add.at(tot, ga, F)
    want = Eg[:, None] * sig[None, :] * covered
    ratio = np.divide(want, tot, out=np.zeros_like(want), where=tot > 0)
    F = F * ratio[ga]
    e = np.asarray(b.energy, float)
    grp = bi["grp"]
    ids = b.demand_ids if b.demand_ids is not None else pd.RangeIndex(len(e))
    # rows of each group: expand (row, arc) pairs
    rows = np.flatnonzero((grp >= 0) & (e > 0))
    starts = np.searchsorted(ga, np.arange(ng))
    cnt = np.bincount(ga, minlength=ng)
    r_rep = np.repeat(rows, cnt[grp[rows]])
    off = np.arange(len(r_rep)) - np.repeat(np.cumsum(cnt[grp[rows]]) - cnt[grp[rows]], cnt[grp[rows]])
    arc = starts[grp[r_rep]] + off
    part = e[r_rep] / Eg[grp[r_rep]]
    En = F[arc] * part[:, None]  # pairs × T
    pi, ti = np.nonzero(En > 1e-9)
    ylab = np.array(years, dtype=object)
    return pd.DataFrame({"block": b.name, "year": ylab[ti], "demand_id": np.asarray(ids)[r_rep[pi]],
                         "site_id": np.asarray(b.site_ids)[ja[arc[pi]]], "energy": En[pi, ti]}, columns=cols)


def _refuelled(b: FlowBlock, open_mask: np.ndarray) -> np.ndarray:
    """Refuelled flag per path: the caller's direct check, else every arc-cover set hit."""
    if b.check is not None:
        return np.asarray(b.check(open_mask), bool)
    sizes = np.diff(b.set_indptr)
    set_of = np.repeat(np.arange(len(sizes)), sizes)
    hit = np.zeros(len(sizes), bool)
    if len(b.set_sites):
        np.logical_or.at(hit, set_of, open_mask[b.set_sites])
    ok = ~b.impossible.copy()
    miss = ~hit
    ok[b.set_path[miss]] = False
    return ok & ~b.impossible


def _warm_start(blocks: Sequence[Block], model: Any, info: dict, *, registry: SiteRegistry | None,
                budgets: Any, total_budget: Any, carry_over: bool, objective: str, time_limit_s: float | None,
                mip_rel_gap: float, threads: int | None, deadline: Any = None) -> tuple[dict | None, str]:
    """MIP start for the phased model (see :func:`solve_joint`).

    Returns ``(start, kind)``: ``kind`` is ``"phased"`` (with yearly budgets: the last year's plan
    with build years chosen by :func:`_phased_vector`, checked against every row of the model),
    ``"last_year"`` (that plan built in every year: without yearly budgets, or the fallback) or
    ``"none"``.
    """
    final = _last_year_plan(blocks, info, registry=registry, budgets=budgets, total_budget=total_budget,
                            objective=objective, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, threads=threads,
                            deadline=deadline)
    if final is None:
        return None, "none"
    L: _Layout = info["layout"]
    T = L.T
    t0 = time.perf_counter()
    # without yearly budgets the last year's plan in every year is feasible already, and on the province
    # benchmark it solved faster (85 s, optimal) than the phased start (246 s, 0.12 % at the limit)
    x = None if budgets is None else _phased_vector(blocks, info, final, registry=registry, budgets=budgets,
                                                    carry_over=carry_over, objective=objective)
    if x is not None:
        bad = _violations(L, x)
        if not bad:
            logger.info("joint: phased warm start (%.2f s)", time.perf_counter() - t0)
            return _start_map(model, L, x), "phased"
        logger.warning("joint: the phased warm start violates %s; using the last year's plan in every year", bad)
    elif budgets is not None:
        logger.info("joint: no budget-feasible phasing of the last year's plan; using it in every year")
    x = np.zeros(L.n)
    for name, n, *_ in L.vars:
        v1 = final.get(name)
        if v1 is None:
            continue
        off = L.offset[name]
        if n == len(v1) * T:
            x[off: off + n] = np.repeat(v1, T)
        elif n == len(v1):
            x[off: off + n] = v1
    return _start_map(model, L, x), "last_year"


class _StartResult:
    """A :class:`gzcharge.solve.SolveResult` stand-in for a checked start returned as the plan."""

    def __init__(self, start: dict, seconds: float) -> None:
        from gzcharge.locate._common import Status

        self._start = start
        self.status = Status.TIME_LIMIT_FEASIBLE
        self.bound = float("nan")
        self.seconds = seconds
        self.details = {"returned_start": True}

    def values(self, key: Any) -> np.ndarray:
        return np.asarray(self._start[key], float)


def _start_map(model: Any, L: _Layout, x: np.ndarray) -> dict:
    """``{Pyomo Var: values}`` from a full column vector."""
    return {_key(model, name): x[L.offset[name]: L.offset[name] + n] for name, n, *_ in L.vars}


def _violations(L: _Layout, x: np.ndarray, tol: float = 1e-7) -> list[str]:
    """Names of the bound, integrality and row families that ``x`` violates (empty: feasible)."""
    bad = []
    for name, n, dom, lb, ub in L.vars:
        v = x[L.offset[name]: L.offset[name] + n]
        t = tol * np.maximum(1.0, np.abs(v))
        if ((v < lb - t) | (v > ub + t)).any():
            bad.append(f"{name} bounds")
        if dom != "real" and (np.abs(v - np.round(v)) > tol).any():
            bad.append(f"{name} integrality")
    for name, r, c, v, lo, hi, nrow in L.rows:
        act = np.bincount(r, weights=v * x[c], minlength=nrow)
        t = tol * np.maximum(1.0, np.abs(act))
        if ((act < lo - t) | (act > hi + t)).any():
            bad.append(name)
    return bad


def _last_year_plan(blocks: Sequence[Block], info: dict, *, registry: SiteRegistry | None, budgets: Any,
                    total_budget: Any, objective: str, time_limit_s: float | None, mip_rel_gap: float,
                    threads: int | None, deadline: Any = None) -> dict[str, np.ndarray] | None:
    """The last year solved alone (its targets and hard rules, the whole budget): values by variable name."""
    from dataclasses import replace

    from gzcharge.solve import Deadline, solve

    T = info["layout"].T
    dl = Deadline.of(deadline, time_limit_s)
    one = []
    for b in blocks:
        s = _targets(b, T)
        last_hard = bool(_years_mask(T, b.hard_from, b.hard)[-1])
        extra = {"year_scale": [float(_year_scale(b, T)[-1])]} if isinstance(b, CoverageBlock) else {}
        one.append(replace(b, target_share=None if b.target_share is None else [s[-1]],
                           hard_from=None if last_hard else 0, hard=last_hard, **extra))
    tb = total_budget
    if budgets is not None:
        tot = float(np.sum(budgets))
        tb = tot if tb is None else min(tb, tot)
    try:
        kw1 = dict(years=[info["years"][-1]], total_budget=tb, registry=registry, objective=objective,
                   monotone_targets=False)
        m1, info1 = build_joint_model(one, as_arrays=True, **kw1)
        tl1 = dl.share(0.4)  # the plan that makes the phased start: worth a large share
        if any(isinstance(b, CoverageBlock) and b.capacitated for b in one):
            # whole plugs: the staged one-year solve (continuous plugs, then whole plugs for those sites)
            r1, _ = _staged_solve(one, m1, info1, {**kw1, "budgets": None, "carry_over": False, "discount_rate": 0.0,
                                                   "year_weight": None},
                                  time_limit_s=tl1, mip_rel_gap=mip_rel_gap, threads=threads, deadline=dl)
        else:
            r1 = solve(m1, time_limit_s=tl1, mip_rel_gap=mip_rel_gap, threads=threads, load_solution=False,
                       deadline=dl)
    except Exception as exc:  # no start is no failure
        logger.info("joint: no warm start from the last year alone (%s)", exc)
        return None
    logger.info("joint: the last year alone: objective %.6g (%s)", r1.objective, r1.status.value)
    if objective == "min_cost" and np.isfinite(float(r1.bound)):
        # the last year's configuration of any phased plan is a plan of the last year alone (same targets,
        # hard rules, demand and at most the summed budgets): its bound bounds the phased plan (solve_joint)
        info["last_year_bound"] = float(r1.bound)
    return {name: np.asarray(r1.values(_key(m1, name)), float) for name, *_ in info1["layout"].vars}


def _phased_vector(blocks: Sequence[Block], info: dict, final: dict[str, np.ndarray], *,
                   registry: SiteRegistry | None, budgets: Any, carry_over: bool, objective: str) -> np.ndarray | None:
    """Build years for the last year's plan ``S`` that meet every year's targets within the budgets.

    Every *unit* of ``S`` (a new site of a coverage/flow block; one added station of a
    capacitated block, up to the final count) gets a first year. Year by year (open sets only grow), each
    block adds units of ``S`` until the year's target share is met, greedily by target progress
    per CNY (coverage: newly covered weight; flow: a path's refuelled flow per cost of the sites
    that still miss on it; capacitated: the facility's final served volume per station); in a hard-rule year
    and in the last year all of the block's units are open. Without carry-over, a year whose spend
    exceeds its budget moves units to the year before (from the last year back). ``max_service``
    then adds units early while the budgets allow. Flows and ``y`` follow from the open sets
    (swap flows are the final flows scaled by stations open / final stations). Returns the full
    column vector, or None when a budget cannot be met this way.
    """
    L: _Layout = info["layout"]
    T = L.T
    Cm = L.cum_matrix()
    K = L.const_cost()
    needs = info["group_needs_var"]
    gshared = info.get("shared", {})
    G = np.zeros(len(needs)) if registry is None else np.asarray(registry.shared_cost, float) * needs
    parts: list[dict] = []
    ucost_l, ugroup_l = [], []
    nU = 0
    for b in blocks:
        d = info["blocks"][b.name]
        p: dict[str, Any] = {"b": b, "d": d, "hard": _years_mask(T, b.hard_from, b.hard)}
        s = _targets(b, T)
        mem = None if registry is None else np.asarray(registry.members.get(b.name, np.full(len(b.site_ids), -1)))
        if isinstance(b, CapacitatedBlock):
            a = d["arcs"]
            NT = np.round(final[f"{b.name}__n"])
            FT = np.maximum(final[f"{b.name}__flow"], 0.0)
            e_f = d["e_f"]
            grow = np.flatnonzero(NT > e_f + 0.5)
            units = np.repeat(grow, np.round(NT - e_f)[grow].astype(np.int64))  # one unit per added station
            served_f = np.bincount(a["fac"], weights=FT, minlength=len(NT))
            ratio = np.divide(e_f, NT, out=np.ones(len(NT)), where=NT > 0)
            p.update(NT=NT, FT=FT, units=units, gain=served_f[units] / NT[units],
                     base=float((served_f * ratio).sum()), need=s * float(np.sum(b.volume)))
            cost = b.fac_cost(a["fac_site"], a["fac_type"])[units]
            sites = a["fac_site"][units]
        else:
            new = d["new"]
            units = np.flatnonzero(final[f"{b.name}__x"] > 0.5)
            cost = d["cost"][units]
            sites = new[units]
            p["units"] = units
            if isinstance(b, CoverageBlock):
                w = np.asarray(b.weight, float)
                fg = d["free_g"]
                Wg = np.bincount(d["grp"][d["grp"] >= 0], weights=w[d["grp"] >= 0], minlength=len(d["ex_g"]))
                # plug cost of serving a group, linearised (only to rank units in the greedy)
                dcr = (d["Eg"][fg] * d["sig"][-1] * float(b.plug_cost) / float(b.plug_capacity)) if d["cap"] \
                    else np.zeros(len(fg))
                p.update(Cu=sp.csr_array(sp.csr_array(d["CG"][fg])[:, new][:, units]), wr=Wg[fg], dcr=dcr,
                         need=s * float(w.sum()) - float(w[d["cov_ex"]].sum()))
                if d["cap"]:
                    fa = final.get(f"{b.name}__assign")
                    p["pref"] = np.zeros(len(d["ga"])) if fa is None else np.asarray(fa, float)
            else:
                f = np.asarray(b.flows, float)
                upos = np.full(len(new), -1)
                upos[units] = np.arange(len(units))
                mu = upos[d["memb_x"]]
                ok = mu >= 0
                nset = len(d["set_y"])
                p.update(fy=f[d["ypaths"]], set_y=d["set_y"], mset=d["memb_set"][ok], munit=mu[ok],
                         has_s=np.bincount(d["memb_set"][ok], minlength=nset) > 0,
                         need=s * float(f.sum()) * (1 - 1e-9) - float(f[d["free"]].sum()))
        g = np.full(len(units), -1) if mem is None else mem[sites]
        g = np.where((g >= 0) & needs[np.maximum(g, 0)] if len(needs) else False, g, -1)
        p["sl"] = slice(nU, nU + len(units))
        nU += len(units)
        ucost_l.append(cost)
        ugroup_l.append(g)
        parts.append(p)
    ucost = np.concatenate(ucost_l) if ucost_l else np.zeros(0)
    ugroup = np.concatenate(ugroup_l).astype(np.int64) if ugroup_l else np.zeros(0, np.int64)
    grouped = ugroup >= 0

    def group_open(o: np.ndarray) -> np.ndarray:
        go = np.zeros(len(G), bool)
        go[ugroup[grouped & o]] = True
        return go

    def assemble(op: np.ndarray) -> np.ndarray:
        x = np.zeros(L.n)
        for p in parts:
            b, d, o = p["b"], p["d"], op[p["sl"]]
            if isinstance(b, CapacitatedBlock):
                a, NT = d["arcs"], p["NT"]
                N = np.repeat(d["e_f"][:, None], T, axis=1)
                np.add.at(N, p["units"], o.astype(float))
                x[d["no"]: d["no"] + N.size] = N.ravel()
                scale = np.divide(N, NT[:, None], out=np.zeros_like(N), where=NT[:, None] > 0)
                Fl = p["FT"][:, None] * scale[a["fac"]]
                x[d["xo"]: d["xo"] + Fl.size] = Fl.ravel()
                if "qo" in d:  # extra packs the flows need: max(0, ceil(ρ served − S n)), cumulative as N and flows
                    ft = a["fac_type"]
                    served = np.zeros_like(N)
                    np.add.at(served, a["fac"], Fl)
                    rho = np.asarray(b.packs_per_volume, float)[ft][:, None]
                    inc = np.asarray(b.packs_included, float)[ft][:, None]
                    Q = np.maximum(np.ceil(rho * served - inc * N - 1e-9), 0.0)
                    Q = np.maximum.accumulate(Q, axis=1)
                    x[d["qo"]: d["qo"] + Q.size] = Q.ravel()
                continue
            X = np.zeros((len(d["new"]), T))
            X[p["units"]] = o
            x[d["xo"]: d["xo"] + X.size] = X.ravel()
            if isinstance(b, CoverageBlock):
                Y = (p["Cu"] @ o.astype(float) > 0.5).astype(float)
                if d["cap"]:
                    open_t = np.zeros((len(b.site_ids), T), bool)
                    open_t[~np.isin(np.arange(len(b.site_ids)), d["new"])] = True
                    open_t[d["new"]] = X > 0.5
                    Pv, Fv = _coverage_start(b, d, open_t, p["pref"])
                    x[d["po"]: d["po"] + Pv.size] = Pv.ravel()
                    x[d["fo"]: d["fo"] + Fv.size] = Fv.ravel()
            else:
                Y = np.ones((len(p["fy"]), T))
                hit = np.zeros((len(p["set_y"]), T), bool)
                np.logical_or.at(hit, p["mset"], o[p["munit"]])
                miss = np.nonzero(~hit)
                Y[p["set_y"][miss[0]], miss[1]] = 0.0
            x[d["yo"]: d["yo"] + Y.size] = Y.ravel()
        if gshared and len(G):
            wo, gpos = gshared["wo"], gshared["gpos"]
            Wg = np.zeros((int((gpos >= 0).sum()), T))
            for t in range(T):
                go = group_open(op[:, t])
                Wg[gpos[go], t] = 1.0
            x[wo: wo + Wg.size] = Wg.ravel()
        if "shared__u" in final:
            x[L.offset["shared__u"]: L.offset["shared__u"] + len(final["shared__u"])] = np.round(final["shared__u"])
        return x

    def add_for_target(p: dict, o: np.ndarray, others_open: np.ndarray, need: float) -> bool:
        """Open units of block ``p`` (mask ``o``, in place) until its target ``need`` is met."""
        u_sl = ucost[p["sl"]]
        ug = ugroup[p["sl"]]
        tol = 1e-9 * max(1.0, abs(need))
        b = p["b"]
        while True:
            go = group_open(others_open) | np.bincount(ug[(ug >= 0) & o], minlength=len(G)).astype(bool)
            ceff = u_sl + np.where(ug >= 0, G[np.maximum(ug, 0)] * ~go[np.maximum(ug, 0)], 0.0) if len(G) else u_sl
            if isinstance(b, CapacitatedBlock):
                served = p["base"] + float(p["gain"][o].sum())
                if served >= need - tol:
                    return True
                score = np.where(~o & (p["gain"] > 0), p["gain"] / (ceff + 1e-9), -1.0)
            elif isinstance(b, CoverageBlock):
                cov = p["Cu"] @ o.astype(float) > 0.5
                if float(p["wr"][cov].sum()) >= need - tol:
                    return True
                gain = p["Cu"].T @ (p["wr"] * ~cov)
                extra = p["Cu"].T @ (p["dcr"] * ~cov)
                score = np.where(~o & (gain > 0), gain / (ceff + extra + 1e-9), -1.0)
            else:
                hit = np.zeros(len(p["set_y"]), bool)
                hit[p["mset"][o[p["munit"]]]] = True
                ok = np.ones(len(p["fy"]), bool)
                ok[p["set_y"][~hit]] = False
                if float(p["fy"][ok].sum()) >= need - tol:
                    return True
                blocked = np.zeros(len(ok), bool)
                blocked[p["set_y"][~hit & ~p["has_s"]]] = True
                # cheapest unit of S in every unhit set; a path's bundle = those units of its unhit sets
                um = ~hit[p["mset"]]
                ms, mu = p["mset"][um], p["munit"][um]
                order = np.lexsort((ceff[mu], ms))
                ms, mu = ms[order], mu[order]
                first = np.r_[True, ms[1:] != ms[:-1]] if len(ms) else np.zeros(0, bool)
                pairs = np.unique(np.column_stack([p["set_y"][ms[first]], mu[first]]), axis=0) \
                    if first.any() else np.zeros((0, 2), np.int64)
                bcost = np.bincount(pairs[:, 0], weights=ceff[pairs[:, 1]], minlength=len(ok))
                cand = ~ok & ~blocked & (p["fy"] > 0)
                if not cand.any():
                    return False
                q = int(np.argmax(np.where(cand, p["fy"] / (bcost + 1e-9), -1.0)))
                o[pairs[pairs[:, 0] == q, 1]] = True
                continue
            if score.max(initial=-1.0) <= 0:
                return False
            o[int(np.argmax(score))] = True

    op = np.zeros((nU, T), bool)
    for t in range(T):
        if t:
            op[:, t] = op[:, t - 1]
        for p in parts:
            o = op[p["sl"], t]
            if t == T - 1 or p["hard"][t]:
                o[:] = True
            else:
                need = p["need"][t]
                if np.isfinite(need) and need > 0:
                    others = op[:, t].copy()
                    others[p["sl"]] = False
                    if not add_for_target(p, o, others, need):
                        return None
            op[p["sl"], t] = o

    def spend(op: np.ndarray) -> np.ndarray:
        return np.diff(np.r_[0.0, Cm @ assemble(op) + K])

    if budgets is not None:
        B = np.asarray(budgets, float)
        if carry_over:
            if (np.cumsum(spend(op)) > np.cumsum(B) * (1 + 1e-9)).any():
                return None
        else:
            for t in range(T - 1, 0, -1):
                while (ex := spend(op)[t] - B[t]) > 1e-9 * max(1.0, B[t]):
                    cand = np.flatnonzero(op[:, t] & ~op[:, t - 1])
                    if not len(cand):
                        return None
                    c = ucost[cand]
                    u = cand[np.argmin(np.where(c >= ex, c, np.inf))] if (c >= ex).any() else cand[np.argmax(c)]
                    op[u, t - 1] = True
            if spend(op)[0] > B[0] * (1 + 1e-9):
                return None
        if objective == "max_service":
            op = _fill_early(op, ucost, spend, B, carry_over)
    return assemble(op)


def _coverage_start(b: CoverageBlock, d: dict, open_t: np.ndarray, pref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plugs and assignment of a capacitated coverage block for given open sites by year (a feasible start).

    Each covered group sends its whole energy to one open site in reach (the one the reference
    plan gave the most, ``pref``); plugs = enough for the energy (at least ``min_plugs`` /
    the standing plugs), never fewer than the year before.
    """
    T = open_t.shape[1]
    ga, ja, Eg, sig, ps = d["ga"], d["ja"], d["Eg"], d["sig"], d["psites"]
    na, m = len(ga), open_t.shape[0]
    F = np.zeros((na, T))
    P = np.zeros((len(ps), T))
    ex = np.zeros(m, bool)
    ex[np.setdiff1d(np.arange(m), d["new"])] = True
    base = np.where(ex, d["standing"], float(b.min_plugs))
    prev = np.zeros(len(ps))
    for t in range(T):
        ok = open_t[ja, t]
        a = np.flatnonzero(ok)
        order = a[np.lexsort((-pref[a], ga[a]))]
        first = order[np.r_[True, ga[order][1:] != ga[order][:-1]]] if len(order) else order
        F[first, t] = Eg[ga[first]] * sig[t]
        load = np.bincount(ja, weights=F[:, t], minlength=m)[ps]
        need = np.where(open_t[ps, t], np.maximum(base[ps], np.ceil(load / float(b.plug_capacity) - 1e-9)), 0.0)
        prev = np.minimum(np.maximum(prev, need), d["pmax"])
        P[:, t] = prev
    return P, F

def _fill_early(op: np.ndarray, ucost: np.ndarray, spend: Callable[[np.ndarray], np.ndarray], B: np.ndarray,
                carry_over: bool) -> np.ndarray:
    """``max_service``: open units in earlier years while every year's budget still holds (cheapest first)."""
    T = op.shape[1]
    for t in range(T - 1):
        for u in np.flatnonzero(~op[:, t])[np.argsort(ucost[~op[:, t]], kind="stable")]:
            if not op[u, T - 1]:
                continue
            trial = op.copy()
            trial[u, t:] = True
            sp_ = spend(trial)
            lhs, rhs = (np.cumsum(sp_), np.cumsum(B)) if carry_over else (sp_, B)
            if (lhs <= rhs * (1 + 1e-9) + 1e-6).all():
                op = trial
            elif ucost[u] > 0:
                break
    return op
