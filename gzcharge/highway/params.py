"""Highway tier parameters: defined in :mod:`gzcharge.scenario.highway` (re-exported here)."""

from __future__ import annotations

from gzcharge.scenario.highway import HighwayParams

__all__ = ["HighwayParams"]
