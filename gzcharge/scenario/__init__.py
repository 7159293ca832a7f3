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
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from gzcharge.errors import ConfigError
from gzcharge.scenario.common import DistanceParams, EVParams, SolverParams, TiersParams, _Section
from gzcharge.scenario.highway import HighwayParams
from gzcharge.scenario.hydrogen import HydrogenParams, HydrogenPhase
from gzcharge.scenario.joint import TIERS, JointParams, joint_params
from gzcharge.scenario.public import CandidateCosts, PublicParams
from gzcharge.scenario.swap import FleetTypeParams, StationTypeParams, SwapParams

logger = logging.getLogger(__name__)

__all__ = [
    "TIERS",
    "CandidateCosts",
    "DistanceParams",
    "EVParams",
    "FleetTypeParams",
    "HighwayParams",
    "HydrogenParams",
    "HydrogenPhase",
    "JointParams",
    "PublicParams",
    "StationTypeParams",
    "SwapParams",
    "joint_params",
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


class Scenario(_Section):
    """One run's complete, validated configuration (see the module docstring)."""

    name: str = "default"
    description: str = ""
    ev: EVParams = Field(default_factory=EVParams)
    public: PublicParams = Field(default_factory=PublicParams)
    distance: DistanceParams = Field(default_factory=DistanceParams)
    solver: SolverParams = Field(default_factory=SolverParams)
    tiers: TiersParams = Field(default_factory=TiersParams)
    highway: HighwayParams = Field(default_factory=HighwayParams)
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
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text TOML file (byte {exc.start} is not UTF-8); "
                          "give a scenario .toml such as gzcharge/models/default.toml") from None
    except OSError as exc:
        raise ConfigError(f"cannot read scenario file {path}: {exc}") from None


def _alternatives() -> dict[tuple[str, str], tuple[str, str]]:
    """``(section, key) -> (section, other key)`` of keys that replace each other (km or minutes radius)."""
    from gzcharge.scenario.public import RADIUS_KEYS

    pairs: dict[tuple[str, str], tuple[str, str]] = {}
    for km, mins in RADIUS_KEYS.values():
        pairs[("public", km)], pairs[("public", mins)] = ("public", mins), ("public", km)
    return pairs


def _drop_replaced(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``base`` without the keys whose alternative ``top`` sets alone.

    A file (or ``--set``) that gives ``public.township_radius_min`` replaces an inherited
    ``public.township_radius_km`` and vice versa; one layer that sets both is an error of the
    section's validation.
    """
    out = base
    for (sec, key), (_, other) in _alternatives().items():
        t = top.get(sec)
        if isinstance(t, dict) and key in t and other not in t and isinstance(out.get(sec), dict) and other in out[sec]:
            out = {**out, sec: {k: v for k, v in out[sec].items() if k != other}}
    return out


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(_drop_replaced(base, top))
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
    given = {i.partition("=")[0].strip() for i in overrides if "=" in i}
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
        alt = _alternatives().get((parts[0], parts[-1])) if len(parts) == 2 else None
        if alt is not None and ".".join(alt) not in given:  # a --set minutes radius replaces the file's km one
            node.pop(alt[1], None)
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
