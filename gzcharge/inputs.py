"""The files and options that feed one plan (hashed into the run metadata).

:class:`PlanInputs` is the one place that knows where OSM data comes from (a local file or
Overpass), so every tier asks it instead of choosing for itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PlanInputs"]

#: PlanInputs fields that name files (hashed into run_metadata).
FILE_FIELDS = ("osm_file", "townships", "existing_stations", "expressways", "service_areas", "existing_fast",
               "od_file", "fleets", "h2_sources", "freight_od", "scenario_file")


@dataclass
class PlanInputs:
    """Files and options that feed a plan (hashed into the run metadata)."""

    osm_file: str | None = None
    online: bool = False
    endpoint: str | None = None
    timeout_s: float | None = None
    townships: str | None = None
    existing_stations: str | None = None
    expressways: str | None = None
    service_areas: str | None = None
    existing_fast: str | None = None
    od_file: str | None = None
    fleets: str | None = None
    h2_sources: str | None = None
    freight_od: str | None = None
    scenario_file: str | None = None
    overrides: list[str] = field(default_factory=list)
    #: coordinate system the user declared for input files (``--crs``), and the inputs converted from
    #: GCJ-02 to WGS-84 because of it (recorded in run_metadata either way)
    crs: str = "wgs84"
    crs_converted: list[str] = field(default_factory=list)

    def osm_pois(self, polygon: Any, tags: dict) -> Any:
        """OSM points of interest from the local file or, with ``online``, from Overpass."""
        from gzcharge.sources import osm

        if self.osm_file:
            return osm.pois_from_file(self.osm_file, polygon, tags=tags)
        return osm.pois_from_overpass(polygon, tags=tags, endpoint=self.endpoint,
                                      timeout_s=osm.DEFAULT_TIMEOUT_S if self.timeout_s is None else self.timeout_s)

    def osm_builtup(self, polygon: Any) -> Any:
        """OSM built-up (landuse) polygons from the local file or, with ``online``, from Overpass."""
        from gzcharge.sources import osm

        if self.osm_file:
            return osm.builtup_from_file(self.osm_file, polygon)
        return osm.builtup_from_overpass(polygon, endpoint=self.endpoint,
                                         timeout_s=osm.DEFAULT_TIMEOUT_S if self.timeout_s is None else self.timeout_s)

    def files(self) -> dict[str, str]:
        """Input name -> path, for the inputs that are files."""
        return {n: getattr(self, n) for n in FILE_FIELDS if getattr(self, n)}
