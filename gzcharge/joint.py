"""Joint multi-type plan: every tier in one model with a shared budget, shared sites and phasing.

Geometry and orchestration side of :mod:`gzcharge.locate.joint` (the numeric core; its
docstring has the formulation). :func:`plan_joint` prepares each enabled tier's data with
the tier's own preparation code, groups co-located candidates of different tiers into
physical sites, solves one model over the plan years and returns layers with a
``phase_year`` column, the site groups, cost by tier and year, and what a marginal budget
buys.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from gzcharge.locate.joint import CapacitatedBlock, CoverageBlock

logger = logging.getLogger(__name__)


# =========================================================================== tier data -> blocks
def coverage_block_from_model_data(d: Any, *, name: str = "public", site_ids: Any = None, demand_ids: Any = None,
                                   **kwargs: Any) -> CoverageBlock:
    """A :class:`CoverageBlock` with the public tier's model data (``gzcharge.tiers.public._ModelData``).

    The tier's county share / count rules, must-cover rows, linearised plug cost, station
    limit and objective weights (``weight + bonus + δ``) carry over; its ``budget`` is the
    caller's (pass it to the joint solve).
    """
    from gzcharge.tiers.public import _DELTA_EVS

    n, m = d.cover.shape
    ex = np.asarray(d.existing, bool)
    ow = None
    if d.objective != "min_cost":
        ow = np.asarray(d.weight, float) + (0.0 if d.bonus is None else np.asarray(d.bonus, float)) + _DELTA_EVS
    return CoverageBlock(
        name=name,
        site_ids=pd.Index(range(m) if site_ids is None else site_ids),
        site_cost=np.asarray(d.site_cost, float),
        cover=d.cover,
        weight=np.asarray(d.weight, float),
        demand_ids=None if demand_ids is None else pd.Index(demand_ids),
        existing=ex,
        must=np.asarray(d.must, bool),
        demand_area=np.asarray(d.group) if d.use_share else None,
        area_share=np.asarray(d.share, float) if d.use_share else None,
        site_area=np.asarray(d.site_group) if d.use_count else None,
        area_min_sites=np.asarray(d.min_sites) if d.use_count else None,
        demand_cost=None if d.demand_cost is None else np.asarray(d.demand_cost, float),
        objective_weight=ow,
        max_new_sites=None if d.max_sites is None else int(d.max_sites) - int(ex.sum()),
        **kwargs,
    )


def capacitated_block_from_swap_data(d: Any, *, name: str = "swap", **kwargs: Any) -> CapacitatedBlock:
    """A :class:`CapacitatedBlock` with the swap tier's model data (``SwapModelData``).

    ``min_cost`` swap data become ``full_service=True`` (every swap served from the hard
    year); the swap budget is the caller's.
    """
    kwargs.setdefault("full_service", d.objective == "min_cost")
    return CapacitatedBlock(
        name=name, site_ids=pd.Index(d.site_ids), demand_ids=pd.Index(d.demand_ids), volume=np.asarray(d.swaps, float),
        demand_type=np.asarray(d.dtype_of, np.int64), type_names=list(d.type_names),
        capacity=np.asarray(d.capacity, float), unit_cost=np.asarray(d.unit_cost, float),
        max_per_site=np.asarray(d.max_per_site, np.int64), dist=d.dist_km, access_rate=float(d.access_rate), **kwargs)
