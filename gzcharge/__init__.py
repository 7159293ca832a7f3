"""gzcharge: charging-network siting optimizer for Guizhou province.

Heavy libraries (osmnx, geopandas, pyomo) are imported inside the functions that need
them, so ``import gzcharge`` and ``gzcharge --help`` stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
