"""Highway fast-charging tier: expressway corridors, service-area sites, flow refuelling and a gap rule.

Modules: :mod:`~gzcharge.highway.params` (scenario parameters), :mod:`~gzcharge.highway.corridors`
(corridor graph), :mod:`~gzcharge.highway.candidates` (sites on the corridors),
:mod:`~gzcharge.highway.traffic` (OD flows and paths), :mod:`~gzcharge.highway.model`
(the tier: ``prepare_highway`` → ``solve_highway`` (through the numeric core) →
``assess_highway``; ``plan_highway`` is the three in one call).

Only the light parameter model is imported here; geometry and solver code load on use.
"""

from __future__ import annotations

from gzcharge.highway.params import HighwayParams

__all__ = ["HighwayParams"]
