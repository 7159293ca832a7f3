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
               "od_file", "fleets", "h2_sources", "freight_od", "candidates", "exclude", "scenario_file")


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
    candidates: str | None = None
    exclude: str | None = None
    scenario_file: str | None = None
    overrides: list[str] = field(default_factory=list)
    #: Coordinate system of the input files (``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:<code>``).
    crs: str = "wgs84"
    #: Coordinate system of the ``--existing`` file when it differs from ``crs`` (``--existing-crs``),
    #: e.g. a GCJ-02 station grid from Amap next to WGS-84 township seats; None = ``crs``.
    existing_crs: str | None = None
    #: the inputs converted to WGS-84 because of ``crs`` (recorded in run_metadata either way)
    crs_converted: list[str] = field(default_factory=list)
    #: Rows outside the region are an error instead of a notice.
    strict: bool = False

    def site_rules(self) -> Any:
        """The planner's site rules (``--candidates``, ``--exclude``) or None when neither is given."""
        if not (self.candidates or self.exclude):
            return None
        from gzcharge.candidates import SiteRules, read_candidate_sites, read_exclusion_zones

        return SiteRules(read_candidate_sites(self.candidates, crs=self.crs) if self.candidates else None,
                         read_exclusion_zones(self.exclude, crs=self.crs) if self.exclude else None,
                         path=self.candidates)

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

    def check(self, region: Any) -> list[str]:
        """Read every given input table once, by meaning; returns notices (header mappings, datum hints).

        Rows outside ``region`` (more than 1 km beyond its boundary) are counted and named (first
        ids) in a notice — or, with :attr:`strict`, raised as a :class:`~gzcharge.errors.DataError`.
        Errors of the readers (bad numbers, swapped lon/lat, …) surface here, before any solve.
        """
        import geopandas as gpd

        from gzcharge._util import preview_ids
        from gzcharge.candidates import read_candidate_sites, read_existing_stations
        from gzcharge.errors import DataError
        from gzcharge.export.i18n import msg
        from gzcharge.sources.files import check_datum, mapping_note

        notes: list[str] = []
        frames = []
        if self.existing_stations:
            frames.append(("--existing", self.existing_stations,
                           read_existing_stations(self.existing_stations, crs=self.existing_crs or self.crs), "name"))
        if self.candidates:
            frames.append(("--candidates", self.candidates, read_candidate_sites(self.candidates, crs=self.crs),
                           "site_id"))
        if self.townships and isinstance(self.townships, str):
            from gzcharge.sources.files import read_township_seats

            frames.append(("--townships", self.townships, read_township_seats(self.townships, crs=self.crs),
                           "settlement_id"))
        if self.exclude:
            from gzcharge.candidates import read_exclusion_zones

            read_exclusion_zones(self.exclude, crs=self.crs)
        area = gpd.GeoSeries([region.boundary], crs="EPSG:4326").to_crs(region.metric_crs).buffer(1000.0).iloc[0]
        for flag, path, gdf, id_col in frames:
            mapping = gdf.attrs.get("column_mapping") or {}
            if mapping:
                notes.append(mapping_note(path, mapping))
            warn = gdf.attrs.get("datum_warning") or check_datum(gdf.geometry, path, self.crs)
            if warn:
                notes.append(warn)
            if len(gdf) == 0:
                continue
            out = ~gdf.geometry.to_crs(region.metric_crs).within(area).to_numpy()
            if out.any():
                ids = gdf[id_col].astype(str)[out]
                outside = msg("notes.rows_outside", flag=flag, path=path, n=int(out.sum()), total=len(gdf),
                              region=region.name, ids=preview_ids(ids, 5))
                if self.strict:
                    raise DataError(outside + " (--strict); fix their coordinates (or --crs) or remove the rows")
                notes.append(msg("notes.pass_strict", note=outside))
        return notes

    def files(self) -> dict[str, str]:
        """Input name -> path, for the inputs that are files."""
        return {n: getattr(self, n) for n in FILE_FIELDS if getattr(self, n)}
