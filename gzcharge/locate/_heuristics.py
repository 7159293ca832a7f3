"""Fast primal heuristics for coverage models (warm starts for HiGHS; no solver).

* :func:`greedy_max_cover` -- add the site with the largest newly covered weight (per unit
  cost when a budget binds) until ``p`` sites / the budget are used, then
  :func:`swap_max_cover` improves it by best-improvement 1-swaps (p-constrained, unit
  costs only).
* :func:`greedy_set_cover` -- Chvátal's greedy (cost per newly covered weight) until a
  covered-weight target is met, then drops redundant sites (most expensive first).

All work on a boolean CSR coverage matrix ``A`` (rows = demand, columns = sites) with
sparse matrix-vector products; no Python loops over rows.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)


def _covered_weight(a_csr: sp.csr_array, open_mask: np.ndarray, w: np.ndarray) -> float:
    hits = a_csr @ open_mask.astype(np.int32)
    return float(w[hits > 0].sum())


def greedy_max_cover(
    a: sp.csr_array,
    w: np.ndarray,
    *,
    p: int | None = None,
    site_cost: np.ndarray | None = None,
    budget: float | None = None,
    must: np.ndarray | None = None,
) -> np.ndarray:
    """Greedy site selection for max cover; returns a boolean open mask over columns.

    ``must`` rows (hard-covered) are handled first: the greedy opens sites by newly covered
    must-rows until all are covered (or no site helps). The result respects ``p`` and
    ``budget``; it may miss must-rows when those limits are too tight (the caller's model
    then decides feasibility).
    """
    n, m = a.shape
    a_csc = sp.csc_array(a, dtype=np.float64)
    a_csr = sp.csr_array(a, dtype=np.int32)
    cost = np.ones(m) if site_cost is None else site_cost.astype(float)
    open_mask = np.zeros(m, dtype=bool)
    uncovered = np.ones(n, dtype=bool)
    spent = 0.0
    cap_p = m if p is None else p
    cap_b = np.inf if budget is None else budget

    def pick(gain: np.ndarray, use_ratio: bool) -> int:
        g = gain.copy()
        g[open_mask] = -1.0
        g[spent + cost > cap_b + 1e-9] = -1.0
        score = g / np.maximum(cost, 1e-12) if use_ratio else g
        score[g <= 0] = -1.0
        j = int(np.argmax(score))
        return j if score[j] > 0 else -1

    use_ratio = budget is not None and site_cost is not None
    if must is not None and must.any():
        while int(open_mask.sum()) < cap_p:
            need = (uncovered & must).astype(float)
            if not need.any():
                break
            j = pick(a_csc.T @ need, use_ratio)
            if j < 0:
                break
            open_mask[j] = True
            spent += cost[j]
            uncovered &= ~(a_csr[:, [j]].toarray().ravel() > 0)
    while int(open_mask.sum()) < cap_p:
        j = pick(a_csc.T @ (w * uncovered), use_ratio)
        if j < 0:
            break
        open_mask[j] = True
        spent += cost[j]
        col = a_csc.indices[a_csc.indptr[j] : a_csc.indptr[j + 1]]
        uncovered[col] = False
    return open_mask


def swap_max_cover(
    a: sp.csr_array,
    w: np.ndarray,
    open_mask: np.ndarray,
    *,
    time_limit_s: float = 5.0,
    max_rounds: int = 10_000,
    must: np.ndarray | None = None,
) -> np.ndarray:
    """Best-improvement 1-swap local search for p-constrained max cover (unit costs).

    For open site ``i`` and closed site ``j`` the exact change of covered weight is
    ``gain_j + B[j, i] - loss_i`` where ``gain_j`` is the uncovered weight ``j`` covers,
    ``loss_i`` the weight covered only by ``i`` and ``B = Aᵀ U`` with ``U[r, i] = w_r`` when
    row ``r`` is covered only by ``i``. Swaps that uncover a ``must`` row are not made.
    """
    t0 = time.perf_counter()
    n, m = a.shape
    a_csr = sp.csr_array(a, dtype=np.float64)
    a_csc = sp.csc_array(a_csr)
    x = open_mask.copy()
    for _ in range(max_rounds):
        if time.perf_counter() - t0 > time_limit_s:
            break
        hits = a_csr @ x.astype(np.float64)
        uncovered = hits == 0
        gain = a_csc.T @ (w * uncovered)
        gain[x] = -np.inf
        open_idx = np.flatnonzero(x)
        if len(open_idx) == 0:
            break
        # U: rows covered exactly once, by which open site
        once = np.flatnonzero(hits == 1)
        sub = a_csr[once][:, open_idx]
        sub = sp.coo_array(sub)
        owner_pos = np.full(len(once), -1)
        owner_pos[sub.row] = sub.col
        wt = w[once]
        if must is not None:
            wt = np.where(must[once], 1e30, wt)  # never uncover a must row
        u = sp.csc_array((wt, (once, owner_pos)), shape=(n, len(open_idx)))
        loss = np.asarray(u.sum(axis=0)).ravel()
        b = sp.csr_array(a_csc.T @ u)  # (m, |open|)
        # candidates: best j for each i; delta = gain_j + B[j,i] - loss_i
        # first ignore B (gain_j - loss_i), then add B's entries for the pairs where it exists
        best_gain_j = int(np.argmax(gain))
        best_delta = gain[best_gain_j] - loss.min()
        best_pair = (best_gain_j, int(np.argmin(loss)))
        bc = sp.coo_array(b)
        if bc.nnz:
            d = gain[bc.row] + bc.data - loss[bc.col]
            d[x[bc.row]] = -np.inf
            t = int(np.argmax(d))
            if d[t] > best_delta:
                best_delta, best_pair = d[t], (int(bc.row[t]), int(bc.col[t]))
        # gain_j - loss_i with B[j,i]=0 is only valid when the pair has no B entry; the max
        # above may pick a pair with an entry, which only makes the true delta larger.
        if best_delta <= 1e-9 * max(1.0, float(w.sum())):
            break
        j, ipos = best_pair
        trial = x.copy()
        trial[open_idx[ipos]] = False
        trial[j] = True
        if _covered_weight(sp.csr_array(a_csr), trial, w) <= _covered_weight(
            sp.csr_array(a_csr), x, w
        ):
            break
        if must is not None and must.any():
            if ((a_csr @ trial.astype(np.float64)) == 0)[must].any():
                break
        x = trial
    return x


def greedy_set_cover(
    a: sp.csr_array,
    w: np.ndarray,
    target: float,
    site_cost: np.ndarray,
    *,
    must: np.ndarray | None = None,
    group_codes: np.ndarray | None = None,
    group_target: np.ndarray | None = None,
) -> np.ndarray | None:
    """Greedy set cover reaching covered weight ``target`` (and per-group targets).

    ``must`` rows must be covered. Returns a boolean open mask, or ``None`` when the greedy
    cannot reach the targets.
    """
    n, m = a.shape
    a_csc = sp.csc_array(a, dtype=np.float64)
    a_csr = sp.csr_array(a, dtype=np.float64)
    cost = np.maximum(site_cost.astype(float), 1e-9)
    x = np.zeros(m, dtype=bool)
    uncovered = np.ones(n, dtype=bool)
    must = np.zeros(n, dtype=bool) if must is None else must
    has_groups = group_codes is not None and group_target is not None and len(group_target) > 0
    big = 1.0 + float(w.sum())

    def deficit_weights() -> np.ndarray:
        """Value of covering each row now: must rows and rows of unmet groups count more."""
        val = w * uncovered * (float(w[~uncovered].sum()) < target - 1e-9)
        if has_groups:
            gcov = np.bincount(
                group_codes[~uncovered & (group_codes >= 0)],
                weights=w[~uncovered & (group_codes >= 0)],
                minlength=len(group_target),
            )
            unmet = gcov < group_target - 1e-9
            val = val + np.where(
                (group_codes >= 0) & uncovered, w * unmet[np.maximum(group_codes, 0)], 0.0
            )
        val = val + big * (must & uncovered)
        return val

    for _ in range(m):
        val = deficit_weights()
        if not (val > 0).any():
            break
        gain = a_csc.T @ val
        gain[x] = 0
        score = np.where(gain > 0, gain / cost, -1.0)
        j = int(np.argmax(score))
        if score[j] <= 0:
            return None
        x[j] = True
        uncovered[a_csc.indices[a_csc.indptr[j] : a_csc.indptr[j + 1]]] = False
    if (deficit_weights() > 0).any():
        return None

    # drop redundant sites, most expensive first (incremental hit counts)
    hits = a_csr @ x.astype(np.float64)
    cov_w = float(w[hits > 0].sum())
    if has_groups:
        sel = (hits > 0) & (group_codes >= 0)
        gcov = np.bincount(group_codes[sel], weights=w[sel], minlength=len(group_target))
    for j in np.flatnonzero(x)[np.argsort(-cost[x], kind="stable")]:
        rows = a_csc.indices[a_csc.indptr[j] : a_csc.indptr[j + 1]]
        lost = rows[hits[rows] == 1]
        if must[lost].any():
            continue
        lost_w = float(w[lost].sum())
        if cov_w - lost_w < target - 1e-9:
            continue
        if has_groups:
            g = group_codes[lost]
            gl = np.bincount(g[g >= 0], weights=w[lost][g >= 0], minlength=len(group_target))
            if ((gcov - gl < group_target - 1e-9) & (gl > 0)).any():
                continue
            gcov = gcov - gl
        x[j] = False
        hits[rows] -= 1
        cov_w -= lost_w
    return x


def _drop_redundant(a_csc: sp.csc_array, a_csr: sp.csr_array, x: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Close open columns whose rows all stay covered, most expensive first."""
    x = x.copy()
    hits = a_csr @ x.astype(np.float64)
    for j in np.flatnonzero(x)[np.argsort(-cost[x], kind="stable")]:
        rows = a_csc.indices[a_csc.indptr[j] : a_csc.indptr[j + 1]]
        if (hits[rows] >= 2).all():
            x[j] = False
            hits[rows] -= 1
    return x


def set_cover_lagrangian(
    a: sp.csr_array,
    cost: np.ndarray,
    *,
    upper: float | None = None,
    iterations: int = 300,
    time_limit_s: float = 2.0,
    primal_every: int = 30,
) -> tuple[float, np.ndarray | None]:
    """Lagrangian bound of ``min c·x, A x >= 1, x ∈ {0,1}`` and a cover found along the way.

    For multipliers ``u >= 0`` on the cover rows, ``L(u) = Σ_i u_i + Σ_j min(0, c_j - (Aᵀu)_j)``
    is a lower bound (the relaxed problem opens exactly the columns of negative reduced cost).
    Start: ``u_i = min_{j ∈ N_i} c_j / |col_j|`` (dual feasible, so ``L = Σ u``); then Held-Karp
    subgradient steps towards the best known cost with a halving step size (Beasley 1990). Every
    ``primal_every`` steps the relaxed solution is completed to a cover (Chvátal greedy on the
    rows it misses) and made irredundant; the cheapest cover is returned (None when no row
    needs covering). Every ``L(u)`` is a valid bound on its own; rows no column covers make
    the problem infeasible (bound ``inf``).
    """
    t0 = time.perf_counter()
    a = sp.csr_array(a, dtype=np.float64)
    at = sp.csr_array(a.T)
    a_csc = sp.csc_array(a)
    n, m = a.shape
    if n == 0:
        return 0.0, None
    c = np.asarray(cost, dtype=float)
    if (np.diff(a.indptr) == 0).any():
        return float("inf"), None
    deg = np.maximum(np.diff(a_csc.indptr), 1)
    row_of = np.repeat(np.arange(n), np.diff(a.indptr))
    u = np.full(n, np.inf)
    np.minimum.at(u, row_of, (c / deg)[a.indices])
    best = float(u.sum())
    ub = float(c.sum()) if upper is None else float(upper)
    best_x, best_cost = None, np.inf
    lam, stall = 2.0, 0
    for it in range(iterations):
        if time.perf_counter() - t0 > time_limit_s:
            break
        rc = c - at @ u
        x = rc < 0
        val = float(u.sum() + rc[x].sum())
        if val > best + 1e-12 * max(1.0, abs(best)):
            best, stall = val, 0
        else:
            stall += 1
            if stall >= 20:
                lam, stall = lam / 2, 0
                if lam < 1e-4:
                    break
        if it % primal_every == 0:
            cover = a @ x.astype(np.float64)
            miss = np.flatnonzero(cover == 0)
            xs = x.copy()
            if len(miss):
                extra = greedy_set_cover(
                    sp.csr_array(a[miss]), np.ones(len(miss)), float(len(miss)), c,
                    must=np.ones(len(miss), dtype=bool),
                )
                if extra is not None:
                    xs |= extra
            if ((a @ xs.astype(np.float64)) > 0).all():
                xs = _drop_redundant(a_csc, a, xs, c)
                cx = float(c[xs].sum())
                if cx < best_cost:
                    best_x, best_cost = xs, cx
                    ub = min(ub, cx)
        g = 1.0 - a @ x.astype(np.float64)
        g[(u <= 0) & (g < 0)] = 0.0
        norm = float(g @ g)
        if norm == 0:
            break  # x covers every row exactly: L(u) is the optimum of the relaxation
        u = np.maximum(0.0, u + lam * max(ub - val, 1e-9 * max(1.0, abs(ub))) / norm * g)
    return best, best_x


def set_cover_lagrangian_bound(
    a: sp.csr_array,
    cost: np.ndarray,
    *,
    upper: float | None = None,
    iterations: int = 300,
    time_limit_s: float = 2.0,
) -> float:
    """The bound of :func:`set_cover_lagrangian` alone."""
    return set_cover_lagrangian(
        a, cost, upper=upper, iterations=iterations, time_limit_s=time_limit_s, primal_every=10**9
    )[0]


def _neighbourhood(
    a: sp.csr_array, at: sp.csr_array, seed_site: int, k: int, rng: np.random.Generator
) -> np.ndarray:
    """About ``k`` sites around ``seed_site``: breadth first over "shares a demand row".

    Level by level (two sparse matrix-vector products each: sites -> their rows -> the sites
    covering them); the last level is sampled at random to stop at ``k``.
    """
    m = a.shape[1]
    inside = np.zeros(m, dtype=bool)
    inside[seed_site] = True
    frontier = inside.copy()
    count = 1
    while count < k:
        rows = (a @ frontier.astype(np.float64)) > 0
        new = ((at @ rows.astype(np.float64)) > 0) & ~inside
        idx = np.flatnonzero(new)
        if len(idx) == 0:
            break
        if count + len(idx) > k:
            idx = rng.choice(idx, size=k - count, replace=False)
        inside[idx] = True
        frontier[:] = False
        frontier[idx] = True
        count += len(idx)
    return np.flatnonzero(inside)


def set_cover_lns(
    a: sp.csr_array,
    cost: np.ndarray,
    x0: np.ndarray,
    *,
    deadline: object | None = None,
    k0: int = 100,
    k_max: int = 600,
    stall: int = 40,
    sub_limit_s: float = 2.0,
    seed: int = 0,
) -> tuple[np.ndarray, dict]:
    """Large-neighbourhood search for ``min c·x, A x >= 1, x ∈ {0,1}`` from the cover ``x0``.

    Each step frees the ``k`` sites around a random open one (:func:`_neighbourhood`), keeps
    every other open site, and solves exactly (HiGHS, a small MIP) the covering of the rows the
    kept sites leave uncovered with the freed sites. An answer of lower cost is an improvement;
    one of equal cost is accepted too (a move along the plateau: on unit-cost covers most steps
    find another optimum of the window, and walking between them reaches windows that improve).
    After ``stall`` steps without improvement ``k`` grows by half, up to ``k_max``.

    Stops at ``deadline`` (a :class:`gzcharge.solve.Deadline`), or without one when ``k`` has
    reached ``k_max`` and stalled once more. Every accepted cover is checked against ``A``.
    Random choices come from ``seed``: with no deadline the result is reproducible.

    Road-like set cover 10k × 2k (benchmarks/bench_solver.py, 45 s from the 209-site Lagrangian
    cover): 169-173 sites where plain HiGHS finds 175-179 in 60 s; strict improvements only:
    174-175.

    Returns the best cover (boolean mask) and counters (``steps``, ``improved``, ``k``).
    """
    from gzcharge.errors import SolverError
    from gzcharge.solve import ArrayModel, Deadline, Status, solve

    a = sp.csr_array(a, dtype=np.float64)
    at = sp.csr_array(a.T)
    a_csc = sp.csc_array(a)
    c = np.asarray(cost, dtype=float)
    x = np.asarray(x0, dtype=bool).copy()
    n, m = a.shape
    dl = deadline if deadline is not None else Deadline(None)
    hits = a @ x.astype(np.float64)
    if n == 0 or m == 0 or not (hits > 0).all():
        return x, {"steps": 0, "improved": 0, "k": 0}
    rng = np.random.default_rng(seed)
    k = max(2, min(int(k0), m))
    k_max = max(k, min(int(k_max), m))
    best_cost = float(c[x].sum())
    steps = improved = fails = 0
    while True:
        if dl.limited and (dl.left() or 0.0) < 0.05:
            break
        if fails >= stall:
            if k >= k_max:
                if not dl.limited:
                    break
            k, fails = min(k_max, int(k * 1.5)), 0
        steps += 1
        free = _neighbourhood(a, at, int(rng.choice(np.flatnonzero(x))), k, rng)
        sub_cols = a_csc[:, free]
        kept = hits - sub_cols @ x[free].astype(np.float64)
        rows = np.flatnonzero(kept <= 0)
        if len(rows) == 0:  # the kept sites cover everything: the freed open sites were redundant
            z = np.zeros(len(free), dtype=bool)
        else:
            sub = sp.csr_array(a[rows][:, free])
            am = ArrayModel(c=c[free], a=sub, row_lower=np.ones(len(rows)),
                            row_upper=np.full(len(rows), np.inf), lower=np.zeros(len(free)),
                            upper=np.ones(len(free)), integer=np.ones(len(free), dtype=bool),
                            blocks={"x": (0, len(free))}, name="lns window")
            lim = sub_limit_s if not dl.limited else min(sub_limit_s, dl.left() or 0.0)
            try:
                res = solve(am, time_limit_s=lim, mip_rel_gap=0.0, deadline=dl, load_solution=False)
            except SolverError:
                fails += 1
                continue
            if res.status not in (Status.OPTIMAL, Status.TIME_LIMIT_FEASIBLE):
                fails += 1
                continue
            z = np.asarray(res.values("x")) > 0.5
            if not ((sub @ z.astype(np.float64)) >= 1).all():
                fails += 1
                continue
        new_cost = best_cost - float(c[free][x[free]].sum()) + float(c[free][z].sum())
        if new_cost > best_cost + 1e-9 * max(1.0, abs(best_cost)):
            fails += 1
            continue
        if new_cost < best_cost - 1e-9 * max(1.0, abs(best_cost)):
            improved += 1
            fails = 0
            logger.debug("set cover LNS step %d (k=%d): %.6g -> %.6g", steps, k, best_cost, new_cost)
        else:
            fails += 1
        hits = kept + sub_cols @ z.astype(np.float64)
        x[free] = z
        best_cost = new_cost
    if not ((a @ x.astype(np.float64)) > 0).all():  # independent of the running counts
        raise SolverError("internal check failed: the set cover LNS lost a row's cover")
    return x, {"steps": steps, "improved": improved, "k": k}
