"""The one module that talks to a solver: HiGHS through Pyomo's appsi persistent interface.

Model builders (:mod:`gzcharge.locate`) construct a Pyomo ``ConcreteModel`` and call
:func:`solve` (one shot) or :class:`PersistentSolver` (translate once, re-solve after small
changes such as a mutable ``p`` right-hand side in a sweep). Pyomo's appsi interface is used
only to translate the model into a ``highspy.Highs`` instance; this module runs HiGHS
itself so that it controls options, MIP starts, callbacks and the wall clock.

Guarantees
----------
* Every solve runs on a fresh ``highspy.Highs`` copy of the translated model (milliseconds):
  HiGHS 1.16 measures the LP time limit on a clock that accumulates over all runs of one
  instance, so a re-solve on the same instance can stop at once with "time limit".
* The objective is **recomputed** from the returned column values (``c·x + offset`` on
  the model HiGHS received) and the solution is checked for bound, row and integrality
  feasibility. HiGHS 1.16 with a start solution and presolve has returned the start vector
  with a wrong "optimal" objective; when the check fails after a warm start the model is
  re-solved once with presolve off. A solution that still fails raises :class:`SolverError`.
* A time limit with an incumbent never raises: the status is
  :attr:`Status.TIME_LIMIT_FEASIBLE` and a warning with the gap is logged.
* Infeasible models raise :class:`InfeasibleError`; any other outcome without a usable
  solution raises :class:`SolverError`.
* The time limit is a deadline for the whole call: ``time_limit_s`` and/or a
  :class:`Deadline` shared by several solves (a model builder passes one ``Deadline`` down to
  every phase; each phase gets the time that is left). HiGHS gets the remaining time as its
  ``time_limit`` and, as a hard stop, an interrupt callback (simplex, interior point and MIP
  interrupt callbacks of ``highspy``) that stops it ``grace_s`` after the deadline. The solve
  runs in the calling thread: nothing is left running when a call returns.
* Models come either as Pyomo models or as :class:`ArrayModel` (columns, bounds, a CSR row
  matrix; passed to HiGHS with ``passModel``, no translation). ``ArrayModel.to_pyomo`` builds
  the same model in Pyomo for inspection and export.

Statuses map as: HiGHS ``Optimal`` -> ``OPTIMAL`` (optimal within ``mip_rel_gap``);
``TimeLimit``/``Interrupt``/``IterationLimit``/``SolutionLimit``/objective limits ->
``TIME_LIMIT_FEASIBLE`` with an incumbent, else :class:`SolverError`; ``Infeasible`` ->
:class:`InfeasibleError`; ``UnboundedOrInfeasible`` -> :class:`InfeasibleError`;
``Unbounded`` and errors -> :class:`SolverError`.

Pyomo and highspy are imported inside functions so that importing this module is cheap.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from gzcharge.errors import InfeasibleError, SolverError
from gzcharge.locate._common import Status

logger = logging.getLogger(__name__)

SOLVER_NAME = "highs"

_INTEGRALITY_TOL = 1e-5
_FEAS_ABS_TOL = 1e-5
_FEAS_REL_TOL = 1e-9
_OBJ_MISMATCH_REL_TOL = 1e-6
#: time-limited models with at least this many nonzeros solve in a child process that is killed
#: at the hard deadline (assumption: below it HiGHS stops within a fraction of a second)
CHILD_PROCESS_MIN_NNZ = 50_000


@dataclass
class SolveResult:
    """Normalised outcome of one HiGHS solve.

    Attributes
    ----------
    status
        :attr:`Status.OPTIMAL` or :attr:`Status.TIME_LIMIT_FEASIBLE` (other outcomes raise).
    objective
        Objective recomputed from the returned solution (``c·x + offset``).
    bound
        Best proven bound (dual bound) in the objective's sense; equals ``objective`` for
        an LP solved to optimality; ``±inf`` when unknown.
    gap
        ``|objective - bound| / max(|objective|, 1e-9)``; ``inf`` when the bound is unknown.
    seconds
        Wall-clock seconds spent in this call (sync/update + solve + checks).
    solver_name, solver_version
        ``"highs"`` and e.g. ``"1.16.0"``.
    reported_objective
        The objective HiGHS reported (kept for diagnostics only).
    details
        Extra facts: ``translate_s``, ``solve_s``, ``highs_status``, ``mip_node_count``,
        ``presolve_off_retry``, ``interrupted`` (stopped by the deadline callback) etc.
    """

    status: Status
    objective: float
    bound: float
    gap: float
    seconds: float
    solver_name: str
    solver_version: str
    reported_objective: float
    details: dict = field(default_factory=dict)
    _col_values: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    _col_of: Mapping[int, int] = field(default=None, repr=False)  # type: ignore[assignment]
    _blocks: Mapping[str, tuple[int, int]] | None = field(default=None, repr=False)

    def values(self, var: Any) -> np.ndarray | float:
        """Solution values of a Pyomo variable (or of a column block of an :class:`ArrayModel`).

        Parameters
        ----------
        var
            An indexed ``Var`` component (returns a float array in the component's index
            order, i.e. ``list(var.keys())``), a single ``VarData`` (returns a float), or the
            name of a column block of an :class:`ArrayModel` (returns a float array).
        """
        if isinstance(var, str):
            if self._blocks is None or var not in self._blocks:
                raise KeyError(f"no column block {var!r} in this result")
            off, n = self._blocks[var]
            return self._col_values[off : off + n]
        if var.is_indexed():
            cols = np.fromiter(
                (self._col_of[id(v)] for v in var.values()), dtype=np.int64, count=len(var)
            )
            return self._col_values[cols]
        return float(self._col_values[self._col_of[id(var)]])

    @property
    def has_solution(self) -> bool:
        """True when a feasible solution is available (always, for a returned result)."""
        return self.status.has_solution


def solver_version() -> str:
    """Return the HiGHS version string (e.g. ``"1.16.0"``)."""
    import highspy

    h = highspy.Highs()
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


class Deadline:
    """One wall-clock deadline shared by all phases of a solve call.

    Parameters
    ----------
    seconds
        Seconds from now (``None`` = no deadline).

    Examples
    --------
    >>> dl = Deadline(60)                       # doctest: +SKIP
    >>> r1 = solve(m1, deadline=dl)             # takes what it needs, at most 60 s
    >>> r2 = solve(m2, time_limit_s=dl.share(0.5), deadline=dl)  # half of what is left
    """

    def __init__(self, seconds: float | None = None) -> None:
        self.start = time.perf_counter()
        self.end = None if seconds is None else self.start + max(0.0, float(seconds))

    @classmethod
    def of(cls, deadline: Deadline | None, time_limit_s: float | None) -> Deadline:
        """The tighter of an existing deadline and ``time_limit_s`` seconds from now."""
        own = cls(time_limit_s)
        if deadline is None or deadline.end is None:
            return own
        if own.end is None or deadline.end < own.end:
            own.end = deadline.end
        return own

    @property
    def limited(self) -> bool:
        """True when there is a deadline."""
        return self.end is not None

    def left(self) -> float | None:
        """Seconds left (``>= 0``), ``None`` without a deadline."""
        if self.end is None:
            return None
        return max(0.0, self.end - time.perf_counter())

    def share(self, frac: float, floor: float = 0.0) -> float | None:
        """``frac`` of the time left, at least ``floor`` but never past the deadline."""
        left = self.left()
        if left is None:
            return None
        return min(left, max(floor, frac * left))

    @property
    def expired(self) -> bool:
        """True when the deadline has passed."""
        return self.end is not None and time.perf_counter() >= self.end


@dataclass
class ArrayModel:
    """A linear (mixed-integer) model as arrays: what HiGHS receives, without Pyomo.

    ``min/max c·x + offset`` s.t. ``row_lower <= A x <= row_upper``, ``lower <= x <= upper``,
    ``x_j`` integer where ``integer[j]``. Columns come in named consecutive blocks
    (``blocks[name] = (first_column, count)``, in column order) and rows in named blocks
    (``row_blocks``); :meth:`to_pyomo` makes one ``Var`` per column block and one
    ``Constraint`` per row block, so both paths solve the same model from the same arrays.
    Results of :func:`solve` on an ``ArrayModel`` are read with ``res.values("name")``;
    warm starts and fixings take block names as keys.
    """

    c: np.ndarray
    a: sp.csr_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    blocks: dict[str, tuple[int, int]]
    row_blocks: dict[str, tuple[int, int]] = field(default_factory=dict)
    offset: float = 0.0
    sense: str = "min"
    name: str = "model"

    def __post_init__(self) -> None:
        n = len(self.c)
        self.a = sp.csr_array(self.a)
        self.a.sum_duplicates()
        shapes = {
            "lower": len(self.lower),
            "upper": len(self.upper),
            "integer": len(self.integer),
            "A columns": self.a.shape[1],
        }
        bad = {k: v for k, v in shapes.items() if v != n}
        if bad or len(self.row_lower) != self.a.shape[0] or len(self.row_upper) != self.a.shape[0]:
            raise ValueError(f"ArrayModel {self.name}: inconsistent sizes {bad} for {n} columns")
        if self.sense not in ("min", "max"):
            raise ValueError(f"ArrayModel sense must be 'min' or 'max', not {self.sense!r}")

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return len(self.c)

    def cols(self, name: str) -> np.ndarray:
        """Column indices of block ``name``."""
        off, n = self.blocks[name]
        return np.arange(off, off + n)

    def to_highs_lp(self) -> Any:
        """A ``highspy.HighsLp`` of the model (row-wise CSR matrix)."""
        import highspy

        lp = highspy.HighsLp()
        n, m = self.n_cols, self.a.shape[0]
        lp.num_col_, lp.num_row_ = n, m
        lp.col_cost_ = np.asarray(self.c, dtype=np.float64)
        lp.col_lower_ = np.asarray(self.lower, dtype=np.float64)
        lp.col_upper_ = np.asarray(self.upper, dtype=np.float64)
        lp.row_lower_ = np.asarray(self.row_lower, dtype=np.float64)
        lp.row_upper_ = np.asarray(self.row_upper, dtype=np.float64)
        lp.offset_ = float(self.offset)
        lp.sense_ = highspy.ObjSense.kMaximize if self.sense == "max" else highspy.ObjSense.kMinimize
        csc = sp.csc_array(self.a)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(np.float64)
        if np.any(self.integer):
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
                for b in np.asarray(self.integer, dtype=bool)
            ]
        return lp

    def to_pyomo(self) -> Any:
        """The same model in Pyomo: one ``Var`` per column block, one ``Constraint`` per row block.

        Binary columns (integer with bounds ``[0, 1]``) become ``Binary`` variables. Meant for
        inspection and export (``model.write("m.lp")``); large models solve from the arrays.
        """
        from gzcharge._util import import_pyomo

        pyo = import_pyomo()  # not `import pyomo.environ`: see gzcharge._util.import_pyomo
        from pyomo.core.expr.numeric_expr import LinearExpression

        m = pyo.ConcreteModel(name=self.name)
        cols: list = []
        for bname, (off, n) in sorted(self.blocks.items(), key=lambda kv: kv[1][0]):
            if off != len(cols):
                raise ValueError(f"ArrayModel {self.name}: column blocks must be consecutive")
            sl = slice(off, off + n)
            lo = [None if not np.isfinite(v) else float(v) for v in self.lower[sl]]
            up = [None if not np.isfinite(v) else float(v) for v in self.upper[sl]]
            ints = np.asarray(self.integer[sl], dtype=bool).tolist()
            var = pyo.Var(
                range(n),
                domain=lambda _m, i, ints=ints: pyo.Integers if ints[i] else pyo.Reals,
                bounds=lambda _m, i, lo=lo, up=up: (lo[i], up[i]),
            )
            m.add_component(bname, var)
            cols.extend(var.values())
        a = self.a
        ip, ix, dv = a.indptr.tolist(), a.indices.tolist(), a.data.tolist()
        rlo = [None if not np.isfinite(v) else float(v) for v in self.row_lower]
        rup = [None if not np.isfinite(v) else float(v) for v in self.row_upper]
        row_blocks = self.row_blocks or {"rows": (0, a.shape[0])}
        for rname, (off, n) in row_blocks.items():

            def rule(_m: Any, k: int, off: int = off) -> Any:
                r = off + k
                b, e = ip[r], ip[r + 1]
                expr = LinearExpression(
                    constant=0, linear_coefs=dv[b:e], linear_vars=[cols[j] for j in ix[b:e]]
                )
                return (rlo[r], expr, rup[r])

            m.add_component(rname, pyo.Constraint(range(n), rule=rule))
        nz = np.flatnonzero(self.c)
        m.obj = pyo.Objective(
            expr=LinearExpression(
                constant=float(self.offset),
                linear_coefs=np.asarray(self.c)[nz].tolist(),
                linear_vars=[cols[j] for j in nz.tolist()],
            ),
            sense=pyo.maximize if self.sense == "max" else pyo.minimize,
        )
        return m


def solve(
    model: Any,
    *,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-4,
    threads: int | None = None,
    warm_start: Mapping[Any, Any] | None = None,
    presolve: bool = True,
    relax_integrality: bool = False,
    enforce_wall_clock: bool = False,
    grace_s: float | None = None,
    load_solution: bool = True,
    log: bool = False,
    options: Mapping[str, Any] | None = None,
    deadline: Deadline | None = None,
) -> SolveResult:
    """Solve a Pyomo model (or an :class:`ArrayModel`) with HiGHS once and return a checked, normalised result.

    Parameters
    ----------
    model
        A Pyomo ``ConcreteModel`` with exactly one active objective (linear, MILP), or an
        :class:`ArrayModel`.
    time_limit_s
        Time limit in seconds (``None`` = none); with ``deadline`` the tighter one applies.
    mip_rel_gap
        Relative MIP gap at which HiGHS stops and reports optimal.
    threads
        HiGHS ``threads`` option (``None`` = HiGHS default). HiGHS fixes its thread pool
        at the first solve of the process.
    warm_start
        MIP start: mapping of Pyomo variables to values. Keys are indexed ``Var``
        components (values: array-like aligned with the component's index order, or a
        mapping index -> value) or single ``VarData`` (a number). Columns not given take
        the variable's current value if set, else the bound nearest zero.
    presolve
        HiGHS presolve on/off.
    relax_integrality
        Solve the LP relaxation (integer columns made continuous for this solve only).
    enforce_wall_clock
        Kept for compatibility: the limit is always enforced (interrupt callback).
    grace_s
        Seconds HiGHS may run past the limit before the interrupt callback stops it
        (default ``min(2, max(0.2, 0.01 * limit))``).
    load_solution
        Also write the solution into the Pyomo variables (``var.value``).
    log
        Show the HiGHS log on the console.
    options
        Extra HiGHS options, e.g. ``{"solver": "ipm"}`` for a large LP relaxation.
    deadline
        A :class:`Deadline` shared with other phases of the caller.

    Returns
    -------
    SolveResult

    Raises
    ------
    InfeasibleError
        The model is infeasible.
    SolverError
        No usable solution (time limit without incumbent, solver error, unbounded, or a
        returned solution that fails the feasibility check).
    """
    return PersistentSolver(model, threads=threads).solve(
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        warm_start=warm_start,
        presolve=presolve,
        relax_integrality=relax_integrality,
        enforce_wall_clock=enforce_wall_clock,
        grace_s=grace_s,
        load_solution=load_solution,
        log=log,
        options=options,
        deadline=deadline,
    )


class PersistentSolver:
    """A Pyomo model translated once into HiGHS, re-solvable after small changes.

    Changes are pushed to HiGHS before each :meth:`solve` according to its ``sync_*``
    arguments; by default only mutable ``Param`` values are re-read (cheap: e.g. the ``p``
    right-hand side of a cardinality constraint in a sweep). Pass ``sync_vars=True`` after
    fixing/unfixing variables or changing bounds, ``sync_objective=True`` after changing
    the objective, ``sync_constraints=True`` after adding/removing constraints.

    Parameters
    ----------
    model
        A Pyomo ``ConcreteModel``.
    threads
        HiGHS ``threads`` option.

    Examples
    --------
    >>> ps = PersistentSolver(m)               # doctest: +SKIP
    >>> for p in (5, 10, 20):                  # doctest: +SKIP
    ...     m.p.set_value(p)
    ...     res = ps.solve(time_limit_s=30)
    """

    def __init__(self, model: Any, *, threads: int | None = None) -> None:
        t0 = time.perf_counter()
        self.model = model
        self._threads = threads
        self._array = isinstance(model, ArrayModel)
        if self._array:
            import highspy

            self._opt = None
            self._lp = model.to_highs_lp()
            self._h = highspy.Highs()
            self._h.setOptionValue("output_flag", False)
        else:
            from pyomo.contrib.appsi.solvers import Highs

            self._opt = Highs()
            if not self._opt.available():
                raise SolverError(
                    "HiGHS (highspy) is not available; install it with `pip install highspy`"
                )
            cfg = self._opt.update_config
            cfg.check_for_new_or_removed_constraints = False
            cfg.check_for_new_or_removed_vars = False
            cfg.check_for_new_or_removed_params = False
            cfg.check_for_new_objective = False
            cfg.update_constraints = False
            cfg.update_vars = False
            cfg.update_params = True
            cfg.update_named_expressions = False
            cfg.treat_fixed_vars_as_params = True
            try:
                self._opt.set_instance(model)
            except Exception as exc:  # Pyomo raises plain ValueError/RuntimeError for bad models
                raise SolverError(f"could not translate the model for HiGHS: {exc}") from exc
            self._h = self._opt._solver_model
            self._lp = None
        self._version = (
            f"{self._h.versionMajor()}.{self._h.versionMinor()}.{self._h.versionPatch()}"
        )
        self.translate_s = time.perf_counter() - t0

    # ------------------------------------------------------------------ helpers
    @property
    def highs(self) -> Any:
        """The persistent ``highspy.Highs`` model (Pyomo models; solves run on copies)."""
        return self._h

    def _col_map(self) -> dict[int, int]:
        return {} if self._array else self._opt._pyomo_var_to_solver_var_map

    def _cols_of(self, key: Any) -> np.ndarray:
        """Solver columns of a block name (ArrayModel), an indexed Var or a single VarData."""
        if isinstance(key, str):
            if not self._array:
                raise SolverError(f"column block {key!r} given for a Pyomo model; pass the Var")
            return self.model.cols(key)
        col_of = self._col_map()
        if key.is_indexed():
            return np.fromiter((col_of[id(v)] for v in key.values()), dtype=np.int64, count=len(key))
        return np.array([col_of[id(key)]], dtype=np.int64)

    def _sync(self, *, sync_vars: bool, sync_objective: bool, sync_constraints: bool) -> None:
        if self._array:
            return
        cfg = self._opt.update_config
        cfg.update_vars = sync_vars
        cfg.check_for_new_or_removed_vars = sync_constraints
        cfg.check_for_new_or_removed_constraints = sync_constraints
        cfg.update_constraints = sync_constraints
        cfg.check_for_new_objective = sync_objective
        cfg.update_named_expressions = sync_objective
        try:
            self._opt.update()
        except Exception as exc:
            raise SolverError(f"could not update the HiGHS model: {exc}") from exc

    def _start_vector(
        self, warm_start: Mapping[Any, Any], lower: np.ndarray, upper: np.ndarray
    ) -> np.ndarray:
        x = np.clip(np.zeros(len(lower)), lower, upper)
        if not self._array:
            for vid, col in self._col_map().items():
                v = self._opt._vars[vid][0]
                if v.value is not None:
                    x[col] = v.value
        for var, vals in warm_start.items():
            cols = self._cols_of(var)
            if not isinstance(var, str) and var.is_indexed() and isinstance(vals, Mapping):
                col_of = self._col_map()
                for k, val in vals.items():
                    x[col_of[id(var[k])]] = val
                continue
            arr = np.atleast_1d(np.asarray(vals, dtype=float))
            if arr.shape != (len(cols),):
                name = var if isinstance(var, str) else var.name
                raise SolverError(
                    f"warm start for {name} has shape {arr.shape}; expected ({len(cols)},)"
                )
            x[cols] = arr
        return x

    def set_objective(self, c: np.ndarray, offset: float = 0.0, sense: str | None = None) -> None:
        """Replace the objective of an :class:`ArrayModel` (e.g. a lexicographic second stage)."""
        import highspy

        if not self._array:
            raise SolverError("set_objective is for ArrayModel solvers; change the Pyomo objective")
        self._lp.col_cost_ = np.asarray(c, dtype=np.float64)
        self._lp.offset_ = float(offset)
        if sense is not None:
            self._lp.sense_ = (
                highspy.ObjSense.kMaximize if sense == "max" else highspy.ObjSense.kMinimize
            )

    def set_rows(self, name: str, lower: Any = None, upper: Any = None) -> None:
        """Change the bounds of row block ``name`` of an :class:`ArrayModel` (e.g. ``p`` in a sweep)."""
        if not self._array:
            raise SolverError("set_rows is for ArrayModel solvers; change the Pyomo Param")
        off, n = self.model.row_blocks[name]
        for arr, val in ((self.model.row_lower, lower), (self.model.row_upper, upper)):
            if val is not None:
                arr[off : off + n] = np.broadcast_to(np.asarray(val, dtype=float), (n,))
        self._lp.row_lower_ = np.asarray(self.model.row_lower, dtype=np.float64)
        self._lp.row_upper_ = np.asarray(self.model.row_upper, dtype=np.float64)

    # ------------------------------------------------------------------ solve
    def solve(
        self,
        *,
        time_limit_s: float | None = None,
        mip_rel_gap: float = 1e-4,
        warm_start: Mapping[Any, Any] | None = None,
        presolve: bool = True,
        relax_integrality: bool = False,
        enforce_wall_clock: bool = False,
        grace_s: float | None = None,
        load_solution: bool = True,
        log: bool = False,
        sync_vars: bool = False,
        sync_objective: bool = False,
        sync_constraints: bool = False,
        options: Mapping[str, Any] | None = None,
        fix: Mapping[Any, Any] | None = None,
        deadline: Deadline | None = None,
    ) -> SolveResult:
        """Solve (or re-solve) the model; see :func:`solve` for the parameters.

        ``sync_vars``, ``sync_objective`` and ``sync_constraints`` push those kinds of
        changes to HiGHS first (mutable parameters are always re-read). ``options`` are extra
        HiGHS options for this solve only (e.g. ``{"solver": "ipm"}``). ``fix`` fixes
        variables for this solve only, directly on the solver's copy (no re-translation, unlike
        fixing Pyomo variables): ``{indexed_var: array}`` with ``NaN`` = leave free, or
        single variables -> value (Pyomo ``VarData`` are not hashable: pass a
        ``pyomo.common.collections.ComponentMap``, as for ``warm_start``). For an
        :class:`ArrayModel` the keys are block names. ``deadline`` bounds this call together
        with ``time_limit_s`` (the tighter applies).
        """
        import highspy

        t0 = time.perf_counter()
        dl = Deadline.of(deadline, time_limit_s)
        self._sync(
            sync_vars=sync_vars, sync_objective=sync_objective, sync_constraints=sync_constraints
        )
        # Each solve runs on a fresh copy of the translated model: HiGHS's LP time limit is
        # measured on a clock that accumulates over all runs of one instance (an LP re-solve
        # after 60 s of earlier runs stops at once with "time limit"), and a fresh copy also
        # leaves the persistent model untouched by relaxations, options and interrupted runs.
        lp = self._lp if self._array else self._opt._solver_model.getLp()
        h = highspy.Highs()
        h.setOptionValue("output_flag", bool(log))
        h.setOptionValue("log_to_console", bool(log))
        h.passModel(lp)
        hopts: dict = {"mip_rel_gap": float(mip_rel_gap), "presolve": "on" if presolve else "off"}
        if self._threads is not None:
            hopts["threads"] = int(self._threads)
        for key, val in hopts.items():
            h.setOptionValue(key, val)
        for key, val in dict(options or {}).items():
            got = h.getOptionValue(key)
            status = got[0] if isinstance(got, tuple) else highspy.HighsStatus.kOk
            if (
                status != highspy.HighsStatus.kOk
                or h.setOptionValue(key, val) != highspy.HighsStatus.kOk
            ):
                raise SolverError(f"HiGHS rejected option {key}={val!r}")
            hopts[key] = val

        n_col = lp.num_col_
        integrality = (
            np.asarray(lp.integrality_, dtype=int)
            if len(lp.integrality_)
            else np.zeros(n_col, dtype=int)
        )
        is_int = integrality != int(highspy.HighsVarType.kContinuous)
        relaxed = bool(relax_integrality and is_int.any())
        if relaxed:
            idx = np.flatnonzero(is_int).astype(np.int32)
            h.changeColsIntegrality(
                len(idx), idx, np.full(len(idx), highspy.HighsVarType.kContinuous)
            )
        if fix:
            cols_l, vals_l = [], []
            for var, vals in fix.items():
                cols = self._cols_of(var)
                arr = np.atleast_1d(np.asarray(vals, dtype=float))
                keep = ~np.isnan(arr)
                cols_l.append(cols[keep])
                vals_l.append(arr[keep])
            fc = np.concatenate(cols_l).astype(np.int32)
            fv = np.concatenate(vals_l)
            if len(fc):
                h.changeColsBounds(len(fc), fc, fv, fv)
        start = None
        if warm_start and not relaxed:
            start = self._start_vector(
                warm_start, np.asarray(lp.col_lower_), np.asarray(lp.col_upper_)
            )
        out = self._run(h, start, dl, grace_s, hopts)
        check = self._check(out["x"], lp, is_int & (not relaxed)) if out["x"] is not None else None
        retried = False
        if (
            out["x"] is not None
            and start is not None
            and presolve
            and not check["ok"]
            and not dl.expired
        ):
            logger.warning(
                "HiGHS returned an inconsistent solution after a MIP start (%s); re-solving with presolve off",
                check["why"],
            )
            h.setOptionValue("presolve", "off")
            hopts["presolve"] = "off"
            out = self._run(h, start, dl, grace_s, hopts)
            check = (
                self._check(out["x"], lp, is_int & (not relaxed)) if out["x"] is not None else None
            )
            retried = True
        return self._finish(
            out, check, lp, t0, retried, load_solution, is_int.any() and not relaxed
        )

    def _run(
        self,
        h: Any,
        start: np.ndarray | None,
        dl: Deadline,
        grace_s: float | None,
        hopts: dict | None = None,
    ) -> dict:
        """Run HiGHS instance ``h`` until it finishes or the deadline (interrupt callback) passes.

        Large time-limited models run in a child process (:mod:`gzcharge._solve_child`) that
        is killed at the hard deadline: HiGHS checks its limit and callbacks only at some
        points and has run 5-16 s past a deadline on a loaded machine.
        """
        import highspy

        left = dl.left()
        if (
            left is not None
            and hopts is not None
            and h.getNumNz() >= CHILD_PROCESS_MIN_NNZ
            and os.environ.get("GZCHARGE_SOLVE_IN_PROCESS") != "1"
        ):
            return self._run_child(h, start, dl, grace_s, hopts)
        # the LP clock accumulates over runs of one instance (see solve): offset the limit
        h.setOptionValue(
            "time_limit", float(left) + h.getRunTime() if left is not None else float("inf")
        )
        if start is not None:
            sol = highspy.HighsSolution()
            sol.col_value = start
            sol.value_valid = True
            sol.dual_valid = False
            h.setSolution(sol)
        t0 = time.perf_counter()
        best: dict = {}
        interrupted = {"at": None}
        if left is not None:
            grace = min(2.0, max(0.2, 0.01 * left)) if grace_s is None else float(grace_s)
            hard_end = dl.end + grace

            def on_interrupt(e: Any) -> None:
                if time.perf_counter() > hard_end:
                    if interrupted["at"] is None:
                        interrupted["at"] = time.perf_counter()
                    e.interrupt()

            def on_improving(e: Any) -> None:
                best["x"] = np.array(e.data_out.mip_solution, dtype=float)

            cbs = (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt)
            for cb in cbs:
                cb.subscribe(on_interrupt)
            h.cbMipImprovingSolution.subscribe(on_improving)
            try:
                h.run()
            finally:
                for cb in cbs:
                    cb.unsubscribe(on_interrupt)
                h.cbMipImprovingSolution.unsubscribe(on_improving)
        else:
            h.run()
        solve_s = time.perf_counter() - t0
        status = h.getModelStatus()
        info = h.getInfo()
        sol = h.getSolution()
        x = np.array(sol.col_value, dtype=float) if sol.value_valid else None
        if x is None and "x" in best:  # interrupted MIP: its last improving solution
            x = best["x"]
        if interrupted["at"] is not None:
            logger.warning(
                "HiGHS ran past its time limit; interrupted %.1f s after the deadline",
                interrupted["at"] - dl.end,
            )
        return {
            "status": status,
            "x": x,
            "reported": float(info.objective_function_value),
            "bound": float(info.mip_dual_bound),
            "nodes": int(info.mip_node_count),
            "solve_s": solve_s,
            "interrupted": interrupted["at"] is not None,
        }

    def _run_child(
        self, h: Any, start: np.ndarray | None, dl: Deadline, grace_s: float | None, hopts: dict
    ) -> dict:
        """Solve ``h``'s model in a child process; kill it at the hard deadline (see ``_run``)."""
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        import highspy

        from gzcharge import _solve_child

        left = float(dl.left() or 0.0)
        grace = min(2.0, max(0.2, 0.01 * left)) if grace_s is None else float(grace_s)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="gzcharge-highs-") as tmp:
            d = Path(tmp)
            opts = {**hopts, "_deadline_epoch": time.time() + (dl.left() or 0.0), "_grace_s": grace}
            _solve_child.write_model(d / "model.npz", h.getLp(), start=start, options=opts)
            env = dict(os.environ)
            root = str(Path(__file__).resolve().parents[1])
            env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
            proc = subprocess.Popen(
                [sys.executable, "-m", "gzcharge._solve_child", tmp],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            killed = False
            try:
                _, err = proc.communicate(timeout=max(dl.left() or 0.0, 0.0) + 2 * grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
                killed = True
            solve_s = time.perf_counter() - t0
            final, best = d / "final.npz", d / "best.npz"
            if final.exists():
                z = np.load(final)
                x = z["x"] if bool(z["valid"]) else None
                if x is None and best.exists():
                    x = np.load(best)["x"]
                return {
                    "status": highspy.HighsModelStatus(int(z["status"])),
                    "x": x,
                    "reported": float(z["objective"]),
                    "bound": float(z["bound"]),
                    "nodes": int(z["nodes"]),
                    "solve_s": solve_s,
                    "interrupted": False,
                }
            if not killed:
                msg = (err or b"").decode(errors="replace").strip().splitlines()
                raise SolverError(
                    "the HiGHS child process failed: " + (msg[-1] if msg else f"exit code {proc.returncode}")
                )
            logger.warning("HiGHS did not stop at its deadline; its process was stopped %.1f s after it",
                           time.perf_counter() - dl.end)
            if best.exists():
                z = np.load(best)
                return {
                    "status": highspy.HighsModelStatus.kInterrupt,
                    "x": z["x"],
                    "reported": float(z["objective"]),
                    "bound": float(z["bound"]),
                    "nodes": -1,
                    "solve_s": solve_s,
                    "interrupted": True,
                }
            return {
                "status": highspy.HighsModelStatus.kInterrupt,
                "x": None,
                "reported": float("nan"),
                "bound": float("nan"),
                "nodes": -1,
                "solve_s": solve_s,
                "interrupted": True,
            }

    @staticmethod
    def _check(x: np.ndarray, lp: Any, is_int: np.ndarray) -> dict:
        """Recompute the objective and check bounds, rows and integrality of ``x``."""
        a = lp.a_matrix_
        n_row, n_col = lp.num_row_, lp.num_col_
        if len(x) != n_col:
            return {
                "ok": False,
                "why": f"solution has {len(x)} values for {n_col} columns",
                "objective": np.nan,
            }
        obj = float(np.dot(np.asarray(lp.col_cost_, dtype=float), x) + lp.offset_)
        why = []
        lo, up = np.asarray(lp.col_lower_), np.asarray(lp.col_upper_)
        tol_c = _FEAS_ABS_TOL + _FEAS_REL_TOL * np.abs(x)
        if ((x < lo - tol_c) | (x > up + tol_c)).any():
            why.append(f"{int(((x < lo - tol_c) | (x > up + tol_c)).sum())} column bounds violated")
        if is_int.any():
            frac = np.abs(x[is_int] - np.round(x[is_int]))
            if (frac > _INTEGRALITY_TOL).any():
                why.append(f"{int((frac > _INTEGRALITY_TOL).sum())} integer columns fractional")
        if n_row:
            if int(a.format_) == 1 or str(a.format_).endswith("kColwise"):
                mat = sp.csc_array(
                    (np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_)),
                    shape=(n_row, n_col),
                )
            else:
                mat = sp.csr_array(
                    (np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_)),
                    shape=(n_row, n_col),
                )
            act = mat @ x
            rlo, rup = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)
            tol_r = _FEAS_ABS_TOL + _FEAS_REL_TOL * np.abs(act)
            bad = (act < rlo - tol_r) | (act > rup + tol_r)
            if bad.any():
                why.append(f"{int(bad.sum())} rows violated")
        return {"ok": not why, "why": "; ".join(why), "objective": obj}

    def _finish(
        self,
        out: dict,
        check: dict | None,
        lp: Any,
        t0: float,
        retried: bool,
        load: bool,
        is_mip: bool,
    ) -> SolveResult:
        import highspy

        ms = highspy.HighsModelStatus
        status = out["status"]
        sense_max = int(lp.sense_) == -1 or str(lp.sense_).endswith("kMaximize")
        details = {
            "translate_s": self.translate_s,
            "solve_s": out["solve_s"],
            "highs_status": str(status),
            "mip_node_count": out["nodes"],
            "presolve_off_retry": retried,
            "interrupted": out["interrupted"],
        }
        if status == ms.kModelEmpty:
            obj = float(lp.offset_)
            return self._result(Status.OPTIMAL, obj, obj, np.zeros(0), obj, t0, details, load)
        if status == ms.kInfeasible:
            raise InfeasibleError(
                "the model is infeasible (HiGHS proved it): no solution meets all constraints"
            )
        if status == ms.kUnboundedOrInfeasible:
            raise InfeasibleError(
                "the model is infeasible or unbounded (HiGHS); check the constraints and costs"
            )
        if status == ms.kUnbounded:
            raise SolverError("the model is unbounded (HiGHS); a cost or bound is missing")
        limit_like = {
            ms.kTimeLimit,
            ms.kInterrupt,
            ms.kIterationLimit,
            ms.kObjectiveBound,
            ms.kObjectiveTarget,
        }
        limit_like |= {
            getattr(ms, n)
            for n in ("kSolutionLimit", "kHighsInterrupt", "kMemoryLimit")
            if hasattr(ms, n)
        }
        if status == ms.kOptimal:
            norm = Status.OPTIMAL
        elif status in limit_like:
            norm = Status.TIME_LIMIT_FEASIBLE
        else:
            raise SolverError(f"HiGHS stopped with status {status} and no usable solution")
        if out["x"] is None:
            raise SolverError(
                f"HiGHS stopped ({status}) without a feasible solution; allow more time or relax targets"
            )
        assert check is not None
        if not check["ok"]:
            raise SolverError(
                f"HiGHS returned a solution that fails the feasibility check: {check['why']}"
            )
        obj = check["objective"]
        if abs(obj - out["reported"]) > _OBJ_MISMATCH_REL_TOL * max(1.0, abs(obj)):
            logger.warning(
                "HiGHS reported objective %.10g but the solution evaluates to %.10g",
                out["reported"],
                obj,
            )
        if is_mip:
            bound = out["bound"]
            if not np.isfinite(bound):
                bound = float("inf") if sense_max else float("-inf")
            # a bound on the wrong side of the verified objective is not a bound; clamp it
            bound = max(bound, obj) if sense_max else min(bound, obj)
        else:
            bound = (
                obj if norm == Status.OPTIMAL else (float("inf") if sense_max else float("-inf"))
            )
        if norm == Status.OPTIMAL and (is_mip is False):
            bound = obj
        return self._result(norm, obj, bound, out["x"], out["reported"], t0, details, load)

    def _result(
        self,
        status: Status,
        obj: float,
        bound: float,
        x: np.ndarray,
        reported: float,
        t0: float,
        details: dict,
        load: bool,
    ) -> SolveResult:
        gap = abs(obj - bound) / max(abs(obj), 1e-9) if np.isfinite(bound) else float("inf")
        if status == Status.TIME_LIMIT_FEASIBLE:
            logger.warning(
                "HiGHS stopped at its limit with an incumbent: objective %.6g, gap %.3g%%",
                obj,
                100 * gap,
            )
        col_of = dict(self._col_map())
        if load and len(x):
            for vid, col in col_of.items():
                self._opt._vars[vid][0].set_value(float(x[col]), skip_validation=True)
        return SolveResult(
            status=status,
            objective=obj,
            bound=bound,
            gap=gap,
            seconds=time.perf_counter() - t0,
            solver_name=SOLVER_NAME,
            solver_version=self._version,
            reported_objective=reported,
            details=details,
            _col_values=x,
            _col_of=col_of,
            _blocks=self.model.blocks if self._array else None,
        )
