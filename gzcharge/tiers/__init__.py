"""Planning tiers: each turns a region and a scenario into stations, layers and a report section.

Every tier implements :class:`gzcharge.tiers.base.Tier`; :data:`REGISTRY` lists them in plan
order (a tier that reuses another's prepared data comes after it). Adding a facility type is
one module with a ``Tier`` subclass and one line here. Entries are import strings so that
``import gzcharge.tiers`` stays light (tiers import geopandas and Pyomo on use).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from gzcharge.tiers.base import Tier

__all__ = ["REGISTRY", "all_tiers", "get_tier", "tier_names"]

#: Tier name -> "module:Class", in plan order.
REGISTRY: dict[str, str] = {
    "public": "gzcharge.tiers.public:PublicTier",
    "highway": "gzcharge.highway.tier:HighwayTier",
    "hydrogen": "gzcharge.tiers.hydrogen:HydrogenTier",
    "swap": "gzcharge.tiers.swap:SwapTier",
}


def tier_names() -> list[str]:
    """Registered tier names in plan order."""
    return list(REGISTRY)


def get_tier(name: str) -> Tier:
    """A new instance of the registered tier ``name``."""
    try:
        module, cls = REGISTRY[name].split(":")
    except KeyError:
        raise KeyError(f"unknown tier {name!r}; tiers are {tier_names()}") from None
    return getattr(import_module(module), cls)()


def all_tiers() -> list[Tier]:
    """One instance of every registered tier, in plan order."""
    return [get_tier(n) for n in REGISTRY]
