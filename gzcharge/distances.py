"""Cost matrices between demand points and candidate sites.

A :class:`CostMatrix` holds sparse travel costs (metres or seconds) from every demand
point (rows) to every candidate site (columns). Stored entries are reachable pairs --
an explicit stored ``0.0`` is a reachable pair at zero cost; a pair that is not stored is
unreachable or beyond the cutoff. Every matrix records the mode that produced it
(``network``: cutoff Dijkstra on a road graph; ``screening``: straight line × circuity;
``given``: supplied by the user).

This module imports only numpy/scipy/pandas at module level so that the numeric core
(:mod:`gzcharge.locate`) can use :class:`CostMatrix` without geopandas.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gzcharge.errors import DataError

logger = logging.getLogger(__name__)

DISTANCE_MODES = ("network", "screening", "given")


@dataclass(frozen=True)
class CostMatrix:
    """Sparse demand × site cost matrix with ids.

    Attributes
    ----------
    rows
        Demand ids, one per row (unique).
    cols
        Site ids, one per column (unique).
    values
        ``scipy.sparse.csr_array`` of shape ``(len(rows), len(cols))``; stored entries are
        the finite costs of reachable pairs (explicit zeros included), everything else is
        unreachable.
    unit
        ``"m"`` or ``"s"``.
    mode
        One of :data:`DISTANCE_MODES`.
    cutoff
        Costs above this were not computed (``None`` = no cutoff).
    meta
        Free-form provenance (e.g. circuity factor, snap distances).
    """

    rows: pd.Index
    cols: pd.Index
    values: sp.csr_array
    unit: str = "m"
    mode: str = "given"
    cutoff: float | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        rows = pd.Index(self.rows)
        cols = pd.Index(self.cols)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "cols", cols)
        vals = sp.csr_array(self.values)
        vals.sum_duplicates()
        vals.sort_indices()
        object.__setattr__(self, "values", vals)
        if vals.shape != (len(rows), len(cols)):
            raise DataError(
                f"cost matrix shape {vals.shape} does not match {len(rows)} row ids × {len(cols)} column ids"
            )
        for name, idx in (("demand (row)", rows), ("site (column)", cols)):
            if not idx.is_unique:
                dup = idx[idx.duplicated()].unique().tolist()[:10]
                raise DataError(f"cost matrix has duplicate {name} ids: {dup}")
        if vals.nnz and not np.all(np.isfinite(vals.data)):
            raise DataError("cost matrix stores non-finite values; leave unreachable pairs unstored")
        if vals.nnz and (vals.data < 0).any():
            raise DataError("cost matrix has negative costs")
        if self.mode not in DISTANCE_MODES:
            raise DataError(f"unknown distance mode {self.mode!r}; expected one of {DISTANCE_MODES}")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataframe(
        cls, df: pd.DataFrame, *, unit: str = "m", mode: str = "given", cutoff: float | None = None
    ) -> CostMatrix:
        """Build from a dense DataFrame (index = demand ids, columns = site ids; inf/NaN = unreachable)."""
        arr = df.to_numpy(dtype=float, na_value=np.nan)
        mask = np.isfinite(arr)
        if cutoff is not None:
            mask &= arr <= cutoff
        i, j = np.nonzero(mask)
        vals = sp.csr_array((arr[i, j], (i, j)), shape=arr.shape)
        return cls(df.index, df.columns, vals, unit=unit, mode=mode, cutoff=cutoff)

    @classmethod
    def from_long(
        cls,
        frame: pd.DataFrame,
        *,
        row: str,
        col: str,
        value: str,
        rows: pd.Index | None = None,
        cols: pd.Index | None = None,
        unit: str = "m",
        mode: str = "given",
    ) -> CostMatrix:
        """Build from a long table with one line per (demand, site) pair."""
        for name in (row, col, value):
            if name not in frame.columns:
                raise DataError(f"cost table has no column {name!r}; columns are {list(frame.columns)}")
        rows = pd.Index(pd.unique(frame[row])) if rows is None else pd.Index(rows)
        cols = pd.Index(pd.unique(frame[col])) if cols is None else pd.Index(cols)
        ri = rows.get_indexer(frame[row])
        ci = cols.get_indexer(frame[col])
        if (ri < 0).any() or (ci < 0).any():
            raise DataError("cost table names ids that are not in the given row/column ids")
        v = frame[value].to_numpy(dtype=float)
        ok = np.isfinite(v)
        vals = sp.csr_array((v[ok], (ri[ok], ci[ok])), shape=(len(rows), len(cols)))
        return cls(rows, cols, vals, unit=unit, mode=mode)

    # ------------------------------------------------------------------ views
    @property
    def shape(self) -> tuple[int, int]:
        """``(n_demand, n_sites)``."""
        return self.values.shape

    def to_dataframe(self) -> pd.DataFrame:
        """Dense DataFrame with ``inf`` for unreachable pairs (small matrices only)."""
        dense = np.full(self.shape, np.inf)
        coo = self.values.tocoo()
        dense[coo.row, coo.col] = coo.data
        return pd.DataFrame(dense, index=self.rows, columns=self.cols)

    def within(self, radius: float) -> sp.csr_array:
        """Boolean CSR coverage matrix: ``True`` where the pair is reachable within ``radius``."""
        v = self.values
        keep = v.data <= radius
        cover = sp.csr_array(
            (np.ones(int(keep.sum()), dtype=bool), v.indices[keep], np.r_[0, np.cumsum(_row_counts(v, keep))]),
            shape=v.shape,
        )
        return cover

    def subset(self, rows: pd.Index | None = None, cols: pd.Index | None = None) -> CostMatrix:
        """Return the matrix restricted to the given row and/or column ids (in that order)."""
        ri = np.arange(len(self.rows)) if rows is None else self._positions(self.rows, rows, "demand")
        ci = np.arange(len(self.cols)) if cols is None else self._positions(self.cols, cols, "site")
        vals = self.values[ri][:, ci]
        return CostMatrix(
            self.rows[ri], self.cols[ci], vals, unit=self.unit, mode=self.mode, cutoff=self.cutoff, meta=dict(self.meta)
        )

    @staticmethod
    def _positions(index: pd.Index, wanted: pd.Index, what: str) -> np.ndarray:
        pos = index.get_indexer(pd.Index(wanted))
        if (pos < 0).any():
            missing = pd.Index(wanted)[pos < 0].tolist()[:10]
            raise DataError(f"unknown {what} ids: {missing}")
        return pos


def _row_counts(v: sp.csr_array, keep: np.ndarray) -> np.ndarray:
    """Count kept stored entries per row of a CSR array."""
    row_of = np.repeat(np.arange(v.shape[0]), np.diff(v.indptr))
    return np.bincount(row_of[keep], minlength=v.shape[0])


def as_cost_matrix(cost: CostMatrix | pd.DataFrame) -> CostMatrix:
    """Accept a :class:`CostMatrix` or a dense DataFrame and return a :class:`CostMatrix`."""
    if isinstance(cost, CostMatrix):
        return cost
    if isinstance(cost, pd.DataFrame):
        if cost.empty or cost.shape[0] == 0 or cost.shape[1] == 0:
            raise DataError(f"cost matrix is empty (shape {cost.shape}); it needs demand rows and site columns")
        return CostMatrix.from_dataframe(cost)
    raise DataError(f"cost must be a CostMatrix or a pandas DataFrame, not {type(cost).__name__}")
