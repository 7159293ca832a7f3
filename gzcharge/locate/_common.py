"""Result types shared by every location model."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import pandas as pd


class Status(str, enum.Enum):
    """gzcharge's own solve outcome, independent of the solver's vocabulary."""

    OPTIMAL = "optimal"
    TIME_LIMIT_FEASIBLE = "time_limit_feasible"  # stopped at the time limit with an incumbent
    TIME_LIMIT_NO_SOLUTION = "time_limit_no_solution"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"
    NOT_RUN = "not_run"  # a tier that was skipped (its inputs are missing): nothing was solved

    @property
    def has_solution(self) -> bool:
        """True when a feasible solution is available."""
        return self in (Status.OPTIMAL, Status.TIME_LIMIT_FEASIBLE)


@dataclass
class LocateResult:
    """Outcome of a location model, reported by id.

    Attributes
    ----------
    selected
        Open site ids (existing sites included), in the order of the model's site ids.
    objective
        Objective value recomputed from the returned solution (never trusted from the solver).
    bound
        Best proven bound on the objective (same sense as ``objective``).
    gap
        Relative gap ``|objective - bound| / max(|objective|, 1e-9)``; 0 when proven optimal.
    status
        A :class:`Status`.
    seconds
        Wall-clock seconds for build + solve.
    assignment
        Demand id -> serving site id (median/capacitated models; nearest open site for coverage
        models), NaN/None where unserved.
    covered
        Boolean Series by demand id (coverage models).
    refuelled
        Boolean Series by path index/id (flow-refuelling).
    details
        Model-specific extras (e.g. timings per stage, model size, LP bound, heuristic value).
    """

    selected: list
    objective: float
    bound: float
    gap: float
    status: Status
    seconds: float
    assignment: pd.Series | None = None
    covered: pd.Series | None = None
    refuelled: pd.Series | None = None
    details: dict = field(default_factory=dict)
