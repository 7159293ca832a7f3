"""Scenario files: every planning rule of a run, validated, with inheritance and overrides.

A scenario is a TOML file (``gzcharge/models/*.toml`` ship with the package) with these
sections:

``ev``
    EV-stock scenario that turns 2020 census households into electric cars per county.
``public``
    Public charging tier (city core, county seats, townships): mode, service radius per
    tier, hard policy targets, budget, station sizing and candidate costs.
``distance``
    Screening (straight line × circuity) or road-network distances.
``solver``
    HiGHS time limit, relative MIP gap and threads.
``highway``
    Highway fast-charging tier (:class:`gzcharge.highway.params.HighwayParams`, when present).
``tiers``
    Which tiers a plan runs.

Loading rules
-------------
* ``extends = "other.toml"`` at the top of a file inherits every key of that file (resolved
  relative to the extending file, then among the packaged models); the extending file wins
  key by key (tables are merged, values replaced). Chains are followed; cycles and missing
  files raise :class:`~gzcharge.errors.ConfigError`.
* ``--set section.key=value`` overrides are applied after inheritance; the value is a TOML
  literal (``5``, ``0.9``, ``true``, ``"max_cover"``; a bare word is taken as a string).
* Every table forbids unknown keys; a typo is rejected with the nearest valid key
  (``public.township_radius_kms: unknown key; did you mean public.township_radius_km?``).
"""

from __future__ import annotations

import copy
import difflib
import logging
import math
import os
import tomllib
import typing
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gzcharge.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "CandidateCosts",
    "DistanceParams",
    "EVParams",
    "PublicParams",
    "Scenario",
    "SolverParams",
    "TiersParams",
    "apply_overrides",
    "default_scenario_path",
    "load_scenario",
    "models_dir",
    "scenario_from_dict",
    "scenario_to_toml",
]


class _Section(BaseModel):
    """Base of every scenario table: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _share(value: float, info) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{info.field_name} must be a share between 0 and 1, got {value}")
    return value


def _positive(value: float, info) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{info.field_name} must be > 0, got {value}")
    return value


# ---------------------------------------------------------------------------------- sections
class EVParams(_Section):
    """EV stock per county: households × car ownership × cars per car household × growth × EV share.

    ``EVs(county) = households_2020 × car_share × cars_per_car_household × car_growth × ev_share_of_cars``

    where ``car_share`` = long-form households owning a car / long-form households
    (2020 census, per county) and the other factors are the scenario's assumptions for
    ``year``. ``evs_by_county`` replaces the estimate for the counties it names (adcode ->
    EVs), e.g. with registered vehicle counts from the traffic police.
    """

    year: int = 2025
    cars_per_car_household: float = 1.0
    car_growth: float = 1.3
    ev_share_of_cars: float = 0.08
    evs_by_county: dict[str, float] = Field(default_factory=dict)

    _pos = field_validator("cars_per_car_household", "car_growth")(_positive)
    _sh = field_validator("ev_share_of_cars")(_share)

    @field_validator("year")
    @classmethod
    def _year(cls, v: int) -> int:
        if not 2020 <= v <= 2060:
            raise ValueError(f"year must be between 2020 and 2060, got {v}")
        return v

    @field_validator("evs_by_county")
    @classmethod
    def _evs(cls, v: dict[str, float]) -> dict[str, float]:
        for code, n in v.items():
            if not (len(code) == 6 and code.isdigit()):
                raise ValueError(f"evs_by_county key {code!r} is not a 6-digit county adcode")
            if not (math.isfinite(n) and n >= 0):
                raise ValueError(f"evs_by_county[{code}] must be >= 0, got {n}")
        return v


class CandidateCosts(_Section):
    """Build cost per candidate type (CNY per station, site works + grid connection + 2 plugs).

    Existing stations cost 0 (they are already built).
    """

    settlement: float = 600_000.0
    fuel_station: float = 400_000.0
    parking: float = 500_000.0
    grid: float = 800_000.0
    urban_grid: float = 700_000.0

    @field_validator("*")
    @classmethod
    def _nonneg(cls, v: float, info) -> float:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{info.field_name} cost must be >= 0 CNY, got {v}")
        return v


class PublicParams(_Section):
    """Public charging tier (市、县、乡三级): targets, budget, demand estimate, sizing, candidates."""

    mode: Literal["min_cost", "max_cover"] = "min_cost"
    # service radius per tier
    city_core_radius_km: float = 2.0
    county_seat_radius_km: float = 3.0
    township_radius_km: float = 10.0
    # hard policy targets
    township_full_coverage: bool = True
    min_county_coverage: float = 0.95
    evs_per_station: float = 500.0
    # budget (max_cover; in min_cost a budget the targets cannot fit raises InfeasibleError)
    budget_cny: float | None = None
    max_stations: int | None = None
    fallback_max_cover: bool = False
    # demand estimate
    urban_residents_per_km2: float = 10_000.0
    county_seat_share_of_urban: float = 0.7
    lattice_spacing_factor: float = 0.5
    estimated_township_spacing_km: float = 12.0
    # station sizing
    kwh_per_ev_day: float = 6.0
    public_charging_share: float = 0.4
    plug_kw: float = 60.0
    hours_per_day: float = 24.0
    utilisation_target: float = 0.15
    min_plugs: int = 2
    cost_per_extra_plug_cny: float = 60_000.0
    # candidates
    grid_spacing_km: float = 5.0
    urban_grid_spacing_km: float = 1.0
    large_parking_min_capacity: int = 50
    candidate_cost_cny: CandidateCosts = Field(default_factory=CandidateCosts)

    _pos = field_validator(
        "city_core_radius_km",
        "county_seat_radius_km",
        "township_radius_km",
        "evs_per_station",
        "urban_residents_per_km2",
        "lattice_spacing_factor",
        "estimated_township_spacing_km",
        "kwh_per_ev_day",
        "plug_kw",
        "grid_spacing_km",
        "urban_grid_spacing_km",
    )(_positive)
    _sh = field_validator(
        "min_county_coverage", "county_seat_share_of_urban", "public_charging_share", "utilisation_target"
    )(_share)

    @field_validator("hours_per_day")
    @classmethod
    def _hours(cls, v: float) -> float:
        if not 0 < v <= 24:
            raise ValueError(f"hours_per_day must be in (0, 24], got {v}")
        return v

    @field_validator("utilisation_target")
    @classmethod
    def _util(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"utilisation_target must be > 0, got {v}")
        return v

    @field_validator("min_plugs")
    @classmethod
    def _plugs(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"min_plugs must be >= 1, got {v}")
        return v

    @field_validator("budget_cny", "cost_per_extra_plug_cny", "large_parking_min_capacity")
    @classmethod
    def _nonneg(cls, v: float | None, info) -> float | None:
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{info.field_name} must be >= 0, got {v}")
        return v

    @field_validator("max_stations")
    @classmethod
    def _maxst(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError(f"max_stations must be >= 1, got {v}")
        return v

    def radius_m(self, tier: str) -> float:
        """Service radius in metres of a demand tier (``city``, ``county`` or ``township``)."""
        km = {
            "city": self.city_core_radius_km,
            "county": self.county_seat_radius_km,
            "township": self.township_radius_km,
        }[tier]
        return km * 1000.0


class DistanceParams(_Section):
    """How demand-to-site costs are measured."""

    mode: Literal["screening", "network"] = "screening"
    circuity: float = 1.4
    snap_max_m: float = 2_000.0

    @field_validator("circuity")
    @classmethod
    def _circ(cls, v: float) -> float:
        if not (math.isfinite(v) and v >= 1.0):
            raise ValueError(f"circuity must be >= 1 (road distance / straight line), got {v}")
        return v

    _pos = field_validator("snap_max_m")(_positive)


class SolverParams(_Section):
    """HiGHS settings shared by every model of a run."""

    time_limit_s: float = 60.0
    mip_rel_gap: float = 0.001
    threads: int = 2

    _pos = field_validator("time_limit_s")(_positive)
    _sh = field_validator("mip_rel_gap")(_share)

    @field_validator("threads")
    @classmethod
    def _threads(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"threads must be >= 1, got {v}")
        return v


class TiersParams(_Section):
    """Which tiers a plan runs (a tier without its inputs is skipped with a notice)."""

    public: bool = True
    highway: bool = True
    swap: bool = True
    hydrogen: bool = True


from gzcharge.joint import JointParams  # noqa: E402
from gzcharge.tiers.hydrogen import HydrogenParams  # noqa: E402
from gzcharge.tiers.swap import SwapParams  # noqa: E402


def _highway_model() -> type[BaseModel] | None:
    try:
        from gzcharge.highway.params import HighwayParams
    except ImportError:
        return None
    return HighwayParams


_HighwayParams = _highway_model()


class Scenario(_Section):
    """One run's complete, validated configuration (see the module docstring)."""

    name: str = "default"
    description: str = ""
    ev: EVParams = Field(default_factory=EVParams)
    public: PublicParams = Field(default_factory=PublicParams)
    distance: DistanceParams = Field(default_factory=DistanceParams)
    solver: SolverParams = Field(default_factory=SolverParams)
    tiers: TiersParams = Field(default_factory=TiersParams)
    if _HighwayParams is not None:
        highway: _HighwayParams = Field(default_factory=_HighwayParams)  # type: ignore[valid-type]
    swap: SwapParams = Field(default_factory=SwapParams)
    hydrogen: HydrogenParams = Field(default_factory=HydrogenParams)
    joint: JointParams = Field(default_factory=JointParams)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        p = self.public
        if not (p.city_core_radius_km <= p.township_radius_km and p.county_seat_radius_km <= p.township_radius_km):
            logger.debug("township radius is smaller than an urban radius; allowed but unusual")
        return self


# ---------------------------------------------------------------------------------- paths
_PREFECTURE_FILES = {
    "520000": "province.toml",
    "520100": "guiyang.toml",
    "520200": "liupanshui.toml",
    "520300": "zunyi.toml",
    "520400": "anshun.toml",
    "520500": "bijie.toml",
    "520600": "tongren.toml",
    "522300": "qianxinan.toml",
    "522600": "qiandongnan.toml",
    "522700": "qiannan.toml",
}
_PREFECTURE_NAMES = {
    "贵州省": "520000",
    "贵州": "520000",
    "province": "520000",
    "贵阳市": "520100",
    "六盘水市": "520200",
    "遵义市": "520300",
    "安顺市": "520400",
    "毕节市": "520500",
    "铜仁市": "520600",
    "黔西南布依族苗族自治州": "522300",
    "黔西南州": "522300",
    "黔东南苗族侗族自治州": "522600",
    "黔东南州": "522600",
    "黔南布依族苗族自治州": "522700",
    "黔南州": "522700",
}
_PREFECTURE_NAMES.update({Path(f).stem: c for c, f in _PREFECTURE_FILES.items()})


def models_dir() -> Path:
    """Folder of the scenario files shipped with gzcharge (``gzcharge/models``)."""
    return Path(str(resources.files("gzcharge") / "models"))


def default_scenario_path(prefecture: str | int | None = None) -> Path:
    """Packaged scenario file of a prefecture (adcode, Chinese name or pinyin) or the province.

    ``None`` gives ``default.toml``.

    Raises
    ------
    ConfigError
        When the prefecture is not one of Guizhou's nine (or the province).
    """
    if prefecture is None:
        return models_dir() / "default.toml"
    key = str(prefecture).strip()
    code = key if key in _PREFECTURE_FILES else _PREFECTURE_NAMES.get(key, _PREFECTURE_NAMES.get(key.lower()))
    if code is None and key.isdigit() and len(key) == 6:
        code = key[:4] + "00"
        code = code if code in _PREFECTURE_FILES else None
    if code is None:
        raise ConfigError(
            f"no packaged scenario for prefecture {prefecture!r}; use one of "
            f"{', '.join(sorted(_PREFECTURE_FILES))} (adcodes) or pass --scenario FILE"
        )
    return models_dir() / _PREFECTURE_FILES[code]


# ---------------------------------------------------------------------------------- loading
def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"scenario file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read scenario file {path}: {exc}") from None


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _resolve_extends(name: str, child: Path) -> Path:
    cand = Path(name)
    if not cand.is_absolute():
        cand = child.parent / cand
    if cand.exists():
        return cand
    packaged = models_dir() / Path(name).name
    if not Path(name).is_absolute() and packaged.exists():
        return packaged
    raise ConfigError(
        f"{child}: extends = {name!r}, but {cand} does not exist (paths are relative to the extending file; "
        f"packaged models are in {models_dir()})"
    )


def _load_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = Path(path).resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise ConfigError(f"{seen[0]}: extends forms a cycle: {chain}")
    data = _read_toml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends must be a file name string, got {parent!r}")
    base = _load_chain(_resolve_extends(parent, path), (*seen, path))
    return _deep_merge(base, data)


# ---------------------------------------------------------------------------------- schema walk
def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model class inside an annotation (``Model`` or ``Model | None``), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        m = _model_of(arg)
        if m is not None:
            return m
    return None


def _is_free_dict(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is dict:
        return True
    return any(_is_free_dict(a) for a in typing.get_args(annotation))


def _valid_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{name}"
        keys.append(dotted)
        sub = _model_of(info.annotation)
        if sub is not None:
            keys.extend(_valid_keys(sub, dotted + "."))
    return keys


def _suggest(dotted: str) -> str:
    valid = _valid_keys(Scenario)
    close = difflib.get_close_matches(dotted, valid, n=1, cutoff=0.6)
    if not close:  # compare the last part within the same section
        parent, _, leaf = dotted.rpartition(".")
        same = [k.rpartition(".")[2] for k in valid if k.rpartition(".")[0] == parent]
        leafs = difflib.get_close_matches(leaf, same, n=1, cutoff=0.5)
        close = [f"{parent}.{leafs[0]}" if parent else leafs[0]] if leafs else []
    if close:
        return f"unknown key; did you mean {close[0]}?"
    parent = dotted.rpartition(".")[0]
    options = [k for k in valid if k.rpartition(".")[0] == parent]
    return f"unknown key; valid keys here are {', '.join(options)}" if options else "unknown key"


def _check_keys(data: dict[str, Any], model: type[BaseModel], prefix: str, where: str) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        info = model.model_fields.get(key)
        if info is None:
            raise ConfigError(f"{where}{dotted}: {_suggest(dotted)}")
        sub = _model_of(info.annotation)
        if sub is not None and isinstance(value, dict) and not _is_free_dict(info.annotation):
            _check_keys(value, sub, dotted + ".", where)


def _field_at(dotted: str) -> tuple[type[BaseModel], Any] | None:
    """(model, field info) of a dotted key, or None when the key does not exist."""
    model: type[BaseModel] = Scenario
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        info = model.model_fields.get(part)
        if info is None:
            return None
        if i == len(parts) - 1:
            return model, info
        if _is_free_dict(info.annotation):
            return (model, info) if i == len(parts) - 2 else None
        sub = _model_of(info.annotation)
        if sub is None:
            return None
        model = sub
    return None


# ---------------------------------------------------------------------------------- overrides
def _parse_value(text: str) -> Any:
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word such as max_cover


def apply_overrides(data: dict[str, Any], overrides: typing.Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``section.key=value`` overrides applied.

    Parameters
    ----------
    data
        Raw (merged) scenario dictionary.
    overrides
        Strings ``"dotted.key=value"``; the value is a TOML literal (``5``, ``0.9``, ``true``,
        ``"x"``, ``[1, 2]``) or a bare word taken as a string.

    Raises
    ------
    ConfigError
        For a malformed override or a key that does not exist (with the nearest valid key).
    """
    out = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. public.township_radius_km=5")
        key, _, raw = item.partition("=")
        key = key.strip()
        if not key or any(not p for p in key.split(".")):
            raise ConfigError(f"--set {item!r}: empty key; expected section.key=value")
        if _field_at(key) is None:
            raise ConfigError(f"--set {key}: {_suggest(key)}")
        value = _parse_value(raw)
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        node[parts[-1]] = value
    return out


def _loc_to_dotted(loc: tuple) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-after"))]
    return ".".join(parts)


def scenario_from_dict(data: dict[str, Any], *, source: str = "scenario") -> Scenario:
    """Validate a raw scenario dictionary; errors become one-line :class:`ConfigError`.

    ``source`` names the file (or ``--set``) in the message.
    """
    data = dict(data)
    data.pop("extends", None)
    _check_keys(data, Scenario, "", f"{source}: ")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        dotted = _loc_to_dotted(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = _suggest(dotted)
        elif "input" in err and err["type"] not in ("value_error",):
            msg = f"{msg} (got {err['input']!r})"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: {dotted}: {msg}{more}") from None


def load_scenario(
    path: str | os.PathLike[str] | None = None, *, overrides: typing.Iterable[str] = ()
) -> Scenario:
    """Load, inherit (``extends``), override (``--set``) and validate a scenario file.

    Parameters
    ----------
    path
        TOML file; ``None`` loads the packaged ``default.toml``. A relative path that does
        not exist but names a packaged model (``models/anshun.toml``) loads the packaged one.
    overrides
        ``"section.key=value"`` strings applied after inheritance.

    Raises
    ------
    ConfigError
        Missing/invalid file, missing or cyclic ``extends``, unknown key (with the nearest
        valid key), or an invalid value (file, dotted key and reason in one line).
    """
    p = Path(path) if path is not None else default_scenario_path(None)
    if not p.exists() and not p.is_absolute() and (models_dir() / p.name).exists():
        # e.g. --scenario models/anshun.toml outside a source checkout: use the packaged copy
        logger.info("scenario %s not found here; using the packaged %s", p, models_dir() / p.name)
        p = models_dir() / p.name
    data = _load_chain(p)
    src = str(p)
    overrides = list(overrides)
    if overrides:
        data = apply_overrides(data, overrides)
        src = f"{p} with --set {' '.join(overrides)}"
    scen = scenario_from_dict(data, source=src)
    logger.debug("loaded scenario %s from %s", scen.name, p)
    return scen


# ---------------------------------------------------------------------------------- TOML out
def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else _toml_value(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        esc = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{esc}"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        # TOML has no null: keys set to None are left out (absent = not set)
        return "{" + ", ".join(f"{_toml_key(str(k))} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml_table(d: dict[str, Any], name: str, lines: list[str]) -> None:
    scalars = {k: v for k, v in d.items() if not (isinstance(v, dict) and v)}
    tables = {k: v for k, v in d.items() if isinstance(v, dict) and v}
    if name:
        lines.append(f"\n[{name}]")
    for k, v in scalars.items():
        if v is None:
            continue  # TOML has no null: an absent key means "not set"
        lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in tables.items():
        _toml_table(v, f"{name}.{_toml_key(k)}" if name else _toml_key(k), lines)


def scenario_to_toml(scenario: Scenario) -> str:
    """The complete, resolved scenario as TOML (for run metadata); loads back to an equal scenario."""
    data = scenario.model_dump(mode="json")
    lines: list[str] = []
    _toml_table(data, "", lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def swap_params(scenario: Scenario) -> SwapParams:
    """The ``[swap]`` section with the scenario's circuity (``distance.circuity``) unless swap sets its own."""
    sw = scenario.swap
    if "circuity" in sw.model_fields_set:
        return sw
    return sw.model_copy(update={"circuity": scenario.distance.circuity})
