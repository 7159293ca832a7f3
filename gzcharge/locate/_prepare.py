"""Shared input checks and conversions for the location models (no solver, no geometry).

Every model turns its user-facing arguments into positional numpy arrays aligned with a
:class:`~gzcharge.distances.CostMatrix`'s row (demand) and column (site) ids here, so that
the messages for bad input are the same everywhere and name the offending ids and values.

Conventions
-----------
* Per-demand values (weights, radii, groups) and per-site values (site costs, capacities)
  are given as a pandas ``Series``/mapping keyed by id (preferred) or as an array-like of
  the matching length (taken in the matrix's row/column order).
* A Series must cover exactly the matrix's ids: missing ids and unknown ids are errors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gzcharge._util import preview_ids
from gzcharge.distances import CostMatrix, as_cost_matrix
from gzcharge.errors import DataError, InfeasibleError

logger = logging.getLogger(__name__)


def prepare_cost(cost: CostMatrix | pd.DataFrame) -> CostMatrix:
    """Return a non-empty :class:`CostMatrix` for a DataFrame or CostMatrix.

    Raises
    ------
    DataError
        Wrong type, empty matrix, non-numeric cells, duplicate ids.
    """
    if isinstance(cost, pd.DataFrame) and cost.shape[0] and cost.shape[1]:
        bad_cols = [c for c in cost.columns if not pd.api.types.is_numeric_dtype(cost[c])]
        if bad_cols:
            raise DataError(
                f"cost matrix columns {preview_ids(bad_cols)} are not numeric; use numbers (inf/NaN = unreachable)"
            )
        arr = cost.to_numpy(dtype=float, na_value=np.nan)
        if (arr < 0).any():
            r, c = np.argwhere(arr < 0)[0]
            raise DataError(
                f"cost matrix has negative costs, e.g. demand {cost.index[r]!r} -> site {cost.columns[c]!r}: {arr[r, c]}"
            )
        if not cost.index.is_unique or not cost.columns.is_unique:
            which = "demand (index)" if not cost.index.is_unique else "site (column)"
            idx = cost.index if not cost.index.is_unique else cost.columns
            raise DataError(
                f"cost matrix has duplicate {which} ids: {preview_ids(idx[idx.duplicated()].unique())}"
            )
    cm = as_cost_matrix(cost)
    if cm.shape[0] == 0 or cm.shape[1] == 0:
        raise DataError(
            f"cost matrix is empty (shape {cm.shape}); it needs demand rows and site columns"
        )
    return cm


def _per_id(
    values: Any,
    ids: pd.Index,
    *,
    name: str,
    what: str,
    default: float | None,
    allow_zero: bool = True,
) -> np.ndarray:
    """Align per-id numbers with ``ids``; check finite and non-negative."""
    if values is None:
        if default is None:
            raise DataError(f"{name} is required: give one number per {what} id")
        return np.full(len(ids), float(default))
    if np.isscalar(values):
        arr = np.full(len(ids), float(values))  # type: ignore[arg-type]
        ser = pd.Series(arr, index=ids)
    elif isinstance(values, (pd.Series, Mapping)):
        ser = pd.Series(values) if isinstance(values, Mapping) else values
        if not ser.index.is_unique:
            raise DataError(
                f"{name} has duplicate {what} ids: {preview_ids(ser.index[ser.index.duplicated()].unique())}"
            )
        missing = ids.difference(ser.index, sort=False)
        unknown = ser.index.difference(ids, sort=False)
        if len(missing):
            raise DataError(
                f"{name} has no value for {len(missing)} {what} ids of the cost matrix: {preview_ids(missing)}; "
                f"give one value per {what} id"
            )
        if len(unknown):
            raise DataError(
                f"{name} names {len(unknown)} {what} ids that are not in the cost matrix: {preview_ids(unknown)}"
            )
        ser = ser.reindex(ids)
        try:
            arr = ser.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name} must be numbers: {exc}") from exc
    else:
        try:
            arr = np.asarray(values, dtype=float).ravel()
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name} must be numbers: {exc}") from exc
        if arr.shape != (len(ids),):
            raise DataError(
                f"{name} has {arr.size} values but the cost matrix has {len(ids)} {what} ids; "
                f"pass a Series indexed by {what} id"
            )
        ser = pd.Series(arr, index=ids)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(
            f"{name} is missing or not finite for {what} ids {preview_ids(ids[bad])}; use numbers >= 0"
        )
    neg = arr < 0 if allow_zero else arr <= 0
    if neg.any():
        shown = preview_ids(f"{i}={v:g}" for i, v in zip(ids[neg], arr[neg], strict=True))
        raise DataError(
            f"{name} must be {'>= 0' if allow_zero else '> 0'}; bad values for {what} ids: {shown}"
        )
    return arr


def prepare_weights(
    weights: Any, demand_ids: pd.Index, *, name: str = "weights", default: float | None = 1.0
) -> np.ndarray:
    """Demand weights as a float array in row order (``None`` -> ``default`` for every demand)."""
    return _per_id(weights, demand_ids, name=name, what="demand", default=default)


def prepare_site_values(
    values: Any, site_ids: pd.Index, *, name: str, default: float | None
) -> np.ndarray:
    """Per-site numbers (site costs, capacities) as a float array in column order."""
    return _per_id(values, site_ids, name=name, what="site", default=default)


def prepare_radius(radius: Any, demand_ids: pd.Index) -> np.ndarray:
    """Coverage radius per demand: a scalar or a per-demand Series/array (same unit as the costs)."""
    if radius is None:
        raise DataError("radius is required: a number or one number per demand id")
    return _per_id(radius, demand_ids, name="radius", what="demand", default=None)


def prepare_existing(existing: Iterable[Any] | None, site_ids: pd.Index) -> np.ndarray:
    """Boolean mask over sites of the existing (forced open) ones; unknown ids are an error."""
    mask = np.zeros(len(site_ids), dtype=bool)
    if existing is None:
        return mask
    if isinstance(existing, (str, bytes)) or not isinstance(existing, Iterable):
        existing = [existing]
    wanted = pd.Index(list(existing))
    if wanted.empty:
        return mask
    pos = site_ids.get_indexer(wanted.unique())
    if (pos < 0).any():
        raise DataError(
            f"existing sites {preview_ids(wanted.unique()[pos < 0])} are not site ids (columns) of the cost matrix"
        )
    mask[pos] = True
    return mask


def prepare_p(p: Any, n_sites: int, n_existing: int, *, name: str = "p") -> int:
    """Check a facility count: an integer with ``n_existing <= p <= n_sites``."""
    if (
        isinstance(p, bool)
        or not isinstance(p, (int, np.integer))
        and not (isinstance(p, float) and p.is_integer())
    ):
        raise DataError(f"{name} must be a whole number of sites, not {p!r}")
    p = int(p)
    if p < 0:
        raise DataError(f"{name} must be >= 0, not {p}")
    if p > n_sites:
        raise DataError(
            f"{name}={p} is larger than the number of candidate sites ({n_sites}); lower {name}"
        )
    if p < n_existing:
        raise DataError(
            f"{name}={p} is smaller than the number of existing sites ({n_existing}) that must stay open; "
            f"raise {name} to at least {n_existing}"
        )
    return p


def prepare_budget(budget: Any, site_cost: np.ndarray, existing: np.ndarray) -> float:
    """Check a budget (same unit as ``site_cost``): finite, >= 0 and >= the cost of the existing sites."""
    try:
        b = float(budget)
    except (TypeError, ValueError) as exc:
        raise DataError(f"budget must be a number, not {budget!r}") from exc
    if not np.isfinite(b) or b < 0:
        raise DataError(f"budget must be a finite number >= 0, not {budget!r}")
    fixed = float(site_cost[existing].sum())
    if b + 1e-9 * max(1.0, abs(b)) < fixed:
        raise DataError(
            f"budget {b:g} is below the cost of the existing sites ({fixed:g}), which stay open; "
            f"raise the budget or give existing sites a site_cost of 0"
        )
    return b


def coverage_matrix(cm: CostMatrix, radius: np.ndarray) -> sp.csr_array:
    """Boolean CSR coverage (demand × site): stored cost ``<=`` the demand's radius."""
    v = cm.values
    if len(radius) == 0 or np.all(radius == radius[0]):
        return cm.within(float(radius[0]) if len(radius) else 0.0)
    row_of = np.repeat(np.arange(v.shape[0]), np.diff(v.indptr))
    keep = v.data <= radius[row_of]
    counts = np.bincount(row_of[keep], minlength=v.shape[0])
    return sp.csr_array(
        (np.ones(int(keep.sum()), dtype=bool), v.indices[keep], np.r_[0, np.cumsum(counts)]),
        shape=v.shape,
    )


def check_coverable(
    cover: sp.csr_array,
    demand_ids: pd.Index,
    rows: np.ndarray | None = None,
    *,
    what: str = "full coverage",
) -> None:
    """Raise :class:`InfeasibleError` naming the demand ids (of ``rows``, default all) no site covers."""
    counts = np.diff(cover.indptr)
    bad = counts == 0
    if rows is not None:
        m = np.zeros(len(bad), dtype=bool)
        m[rows] = True
        bad &= m
    if bad.any():
        ids = demand_ids[bad]
        raise InfeasibleError(
            f"{what} is impossible: {len(ids)} demand points have no candidate site within the radius: "
            f"{preview_ids(ids)}; add candidates near them, enlarge the radius or lower the target",
            unserved=list(ids),
        )


def prepare_groups(
    groups: Any, group_min_coverage: Mapping[Any, float] | None, demand_ids: pd.Index
) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """Group codes per demand, the group ids and each group's minimum covered share.

    Returns
    -------
    codes, group_ids, share
        ``codes[i]`` is the position in ``group_ids`` of demand ``i``'s group (-1: none);
        ``share[k]`` the minimum covered weight share of group ``k`` (0 when not given).
    """
    if groups is None:
        if group_min_coverage:
            raise DataError("group_min_coverage needs groups= (a Series demand id -> group)")
        return np.full(len(demand_ids), -1), pd.Index([]), np.zeros(0)
    ser = pd.Series(groups) if isinstance(groups, Mapping) else groups
    if not isinstance(ser, pd.Series):
        ser = (
            pd.Series(np.asarray(groups), index=demand_ids)
            if len(groups) == len(demand_ids)
            else None
        )
        if ser is None:
            raise DataError("groups must be a Series demand id -> group covering every demand id")
    unknown = ser.index.difference(demand_ids, sort=False)
    if len(unknown):
        raise DataError(
            f"groups names demand ids that are not in the cost matrix: {preview_ids(unknown)}"
        )
    ser = ser.reindex(demand_ids)
    group_ids = pd.Index(pd.unique(ser.dropna()))
    codes = group_ids.get_indexer(ser)
    share = np.zeros(len(group_ids))
    for g, s in (group_min_coverage or {}).items():
        k = group_ids.get_indexer([g])[0]
        if k < 0:
            raise DataError(
                f"group_min_coverage names group {g!r}, which no demand point belongs to"
            )
        s = float(s)
        if not 0 <= s <= 1:
            raise DataError(f"group_min_coverage[{g!r}] = {s} must be a share between 0 and 1")
        share[k] = s
    return codes, group_ids, share


def prepare_subset(
    ids: Iterable[Any] | None, index: pd.Index, *, name: str, what: str
) -> np.ndarray:
    """Boolean mask of the given ids in ``index``; unknown ids are an error."""
    mask = np.zeros(len(index), dtype=bool)
    if ids is None:
        return mask
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        ids = [ids]
    wanted = pd.Index(list(ids)).unique()
    pos = index.get_indexer(wanted)
    if (pos < 0).any():
        raise DataError(
            f"{name} names {what} ids that are not in the cost matrix: {preview_ids(wanted[pos < 0])}"
        )
    mask[pos] = True
    return mask
