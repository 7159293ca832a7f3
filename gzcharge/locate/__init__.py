"""Location models: geometry-free numeric core of gzcharge (no geopandas).

Public API::

    from gzcharge.locate import set_cover, max_cover, p_median, frlm, LocateResult, Status
    from gzcharge.locate import max_cover_sweep  # coverage curve over several p

Each model takes a cost matrix (pandas DataFrame or :class:`gzcharge.distances.CostMatrix`)
or paths with ids, builds its model (formulations in the module docstrings) -- coverage and the
joint core as a :class:`gzcharge.solve.ArrayModel` from sparse arrays (with a Pyomo twin for
inspection), p-median by Benders cuts on a dense matrix or a Pyomo radius model, FRLM as a Pyomo
model by ``_define_*`` steps -- solves it through :mod:`gzcharge.solve` (one deadline per call)
and returns a :class:`LocateResult` reported by id.
"""

from __future__ import annotations

from gzcharge.locate._common import LocateResult, Status
from gzcharge.locate.coverage import max_cover, max_cover_sweep, set_cover
from gzcharge.locate.frlm import frlm
from gzcharge.locate.median import p_median

__all__ = ["LocateResult", "Status", "frlm", "max_cover", "max_cover_sweep", "p_median", "set_cover"]
