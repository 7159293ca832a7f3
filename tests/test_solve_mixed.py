"""solve() on a model whose continuous columns come before general-integer ones.

Regression: the feasibility check once built its integer mask as ``is_int & ~relaxed``
(``~False == -1``), which turned the mask into integers and checked the wrong columns.
"""

from __future__ import annotations

import pyomo.environ as pyo

from gzcharge.locate._common import Status
from gzcharge.solve import solve


def test_mixed_integer_model_with_continuous_columns_first():
    m = pyo.ConcreteModel()
    m.c = pyo.Var(range(3), bounds=(0, 10))
    m.n = pyo.Var(range(3), within=pyo.NonNegativeIntegers, bounds=(0, 5))
    m.k = pyo.Constraint(expr=sum(m.c[i] for i in range(3)) + sum(m.n[i] for i in range(3)) >= 7.5)
    m.k2 = pyo.Constraint(expr=sum(m.c[i] for i in range(3)) <= 0.5)
    m.o = pyo.Objective(expr=sum(m.c[i] for i in range(3)) + sum(2 * m.n[i] for i in range(3)))
    r = solve(m)
    # by hand: the continuous part can give at most 0.5, so the integers must sum to 7 (cost 14),
    # plus 0.5 of continuous at cost 1 each: 14.5
    assert r.status == Status.OPTIMAL
    assert abs(r.objective - 14.5) < 1e-6
