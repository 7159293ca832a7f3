"""Exact reductions of coverage instances (no solver).

Both reductions keep the optimal objective value of set cover and max cover unchanged:

* **Identical demand rows** (same set of covering sites, and the same "class" -- group or
  must-cover flag -- when the caller passes one) are merged into one row whose weight is
  the sum of theirs: a site set covers either all of them or none.
* **Dominated sites** are dropped: site ``j`` is dominated by site ``k`` when every demand
  row ``j`` covers is also covered by ``k`` and ``cost_k <= cost_j`` (identical columns with
  equal cost: the later one is dropped). Any solution using ``j`` stays feasible and no
  worse after replacing ``j`` by ``k`` (or just dropping ``j`` if ``k`` is already open),
  under a cardinality limit, a budget or a cost objective alike. Dominance is transitive, so
  dropping every dominated site at once always keeps an undominated dominator.

Everything is vectorised over the CSR structure; the site dominance test uses the sparse
co-occurrence matrix ``AᵀA`` (``j ⊆ k`` iff ``(AᵀA)[j, k] == |col j|``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)


@dataclass
class MergedRows:
    """Result of :func:`merge_identical_rows`.

    Attributes
    ----------
    cover
        Boolean CSR of the unique rows.
    weight
        Summed weight per unique row.
    row_of
        For each input row, the index of its unique row.
    rep
        For each unique row, one input row it came from.
    """

    cover: sp.csr_array
    weight: np.ndarray
    row_of: np.ndarray
    rep: np.ndarray


def _row_keys(cover: sp.csr_array, cls: np.ndarray | None) -> np.ndarray:
    """Two random 64-bit-ish hashes + row length + class per row (an (n, 4) array)."""
    rng = np.random.default_rng(12345)
    m = cover.shape[1]
    r1 = rng.random(m)
    r2 = rng.random(m)
    a = sp.csr_array(cover, dtype=float)
    keys = np.column_stack(
        [
            a @ r1,
            a @ r2,
            np.diff(cover.indptr).astype(float),
            np.zeros(cover.shape[0]) if cls is None else cls,
        ]
    )
    return keys


def merge_identical_rows(
    cover: sp.csr_array, weight: np.ndarray, cls: np.ndarray | None = None
) -> MergedRows:
    """Merge rows with identical sparsity pattern (and equal ``cls``), summing weights.

    Rows are grouped by hashes of their patterns, then every group is verified exactly
    against its representative; on a hash collision (never seen, but checked) the exact
    (slower) grouping by the rows' index bytes is used instead.
    """
    cover = sp.csr_array(cover, dtype=bool)
    cover.sort_indices()
    n = cover.shape[0]
    if n == 0:
        return MergedRows(
            cover, weight.astype(float), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        )
    keys = _row_keys(cover, cls)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    rep = first
    # exact verification: every row equals its representative
    diff = sp.csr_array(cover, dtype=np.int8) - sp.csr_array(cover[rep[inverse]], dtype=np.int8)
    diff.eliminate_zeros()
    if diff.nnz:
        logger.warning("row hash collision while merging coverage rows; using exact grouping")
        key_list = [
            (
                cover.indices[cover.indptr[i] : cover.indptr[i + 1]].tobytes(),
                0 if cls is None else cls[i],
            )
            for i in range(n)
        ]
        seen: dict = {}
        inverse = np.fromiter(
            (seen.setdefault(k, len(seen)) for k in key_list), dtype=np.int64, count=n
        )
        rep = np.zeros(len(seen), dtype=np.int64)
        rep[inverse[::-1]] = np.arange(n)[::-1]
    merged_w = np.bincount(inverse, weights=weight, minlength=len(rep))
    return MergedRows(cover[rep], merged_w, inverse.astype(np.int64), rep.astype(np.int64))


def dominated_sites(cover: sp.csr_array, site_cost: np.ndarray) -> np.ndarray:
    """Boolean mask of sites dominated by another site (see module docstring).

    Sites covering no row are dominated whenever another site exists with cost <= theirs,
    and always when their cost is > 0 or they are not the cheapest empty one.
    """
    a = sp.csc_array(cover, dtype=np.int32)
    m = a.shape[1]
    size = np.diff(a.indptr)
    dominated = np.zeros(m, dtype=bool)
    # empty columns: contribute nothing; keep none of them (cost >= 0 means they never help)
    dominated |= size == 0
    if m <= 1:
        return dominated
    co = sp.coo_array(a.T @ a)
    j, k, c = co.row, co.col, co.data
    off = j != k
    j, k, c = j[off], k[off], c[off]
    subset = c == size[j]  # col j ⊆ col k
    same = subset & (size[j] == size[k])
    cj, ck = site_cost[j], site_cost[k]
    strict = subset & ~same & (ck <= cj)
    tie = same & ((ck < cj) | ((ck == cj) & (k < j)))
    dominated[j[strict | tie]] = True
    return dominated
