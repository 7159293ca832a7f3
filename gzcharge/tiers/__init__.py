"""Planning tiers: each turns a region and a scenario into stations and compliance tables."""

from __future__ import annotations

__all__ = ["PublicResult", "plan_public"]


def __getattr__(name: str):  # lazy: tiers import geopandas/pyomo
    if name in __all__:
        from gzcharge.tiers import public

        return getattr(public, name)
    raise AttributeError(name)
