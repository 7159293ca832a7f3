"""Scenario files: validation, unknown keys, extends chains, --set overrides, TOML round trip."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gzcharge.errors import ConfigError
from gzcharge.scenario import (
    Scenario,
    apply_overrides,
    default_scenario_path,
    load_scenario,
    models_dir,
    scenario_from_dict,
    scenario_to_toml,
)

PREFECTURE_FILES = [
    "guiyang", "liupanshui", "zunyi", "anshun", "bijie", "tongren", "qianxinan", "qiandongnan", "qiannan",
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_in_file_suggests_nearest(tmp_path):
    f = _write(tmp_path / "s.toml", "[public]\ntownship_radius_kms = 5\n")
    with pytest.raises(ConfigError) as exc:
        load_scenario(f)
    msg = str(exc.value)
    assert "public.township_radius_kms: unknown key; did you mean public.township_radius_km?" in msg
    assert str(f) in msg
    assert "\n" not in msg


def test_unknown_section_and_nested_key(tmp_path):
    with pytest.raises(ConfigError, match=r"publik: unknown key; did you mean public\?"):
        load_scenario(_write(tmp_path / "a.toml", "[publik]\nmode = 'min_cost'\n"))
    with pytest.raises(ConfigError, match=r"public\.candidate_cost_cny\.gird: unknown key; did you mean "
                                         r"public\.candidate_cost_cny\.grid\?"):
        load_scenario(_write(tmp_path / "b.toml", "[public.candidate_cost_cny]\ngird = 1.0\n"))


def test_set_unknown_key_suggests_nearest():
    with pytest.raises(ConfigError) as exc:
        load_scenario(overrides=["public.township_radius_kms=5"])
    assert "public.township_radius_kms: unknown key; did you mean public.township_radius_km?" in str(exc.value)


@pytest.mark.parametrize("value", ["0", "-3", "0.0"])
def test_radius_not_positive_rejected(value):
    with pytest.raises(ConfigError) as exc:
        load_scenario(overrides=[f"public.township_radius_km={value}"])
    msg = str(exc.value)
    assert "public.township_radius_km" in msg and "must be > 0" in msg and str(float(value)) in msg


def test_share_out_of_range_and_bad_type(tmp_path):
    with pytest.raises(ConfigError, match=r"public\.min_county_coverage: .*between 0 and 1, got 1\.5"):
        load_scenario(overrides=["public.min_county_coverage=1.5"])
    with pytest.raises(ConfigError, match=r"public\.mode: .*'min_cost' or 'max_cover'.*'cheapest'"):
        load_scenario(overrides=["public.mode=cheapest"])
    with pytest.raises(ConfigError, match=r"solver\.threads"):
        load_scenario(overrides=["solver.threads=0"])


def test_set_parsing_values_and_types():
    s = load_scenario(
        overrides=[
            "public.township_radius_km=5",
            "public.mode=max_cover",  # bare word -> string
            'public.candidate_cost_cny.grid = 1e6',
            "public.budget_cny=2.5e7",
            "public.township_full_coverage=false",
            "distance.mode=\"network\"",
            "ev.evs_by_county.520402=12000",
        ]
    )
    assert s.public.township_radius_km == 5.0
    assert s.public.mode == "max_cover"
    assert s.public.candidate_cost_cny.grid == 1_000_000.0
    assert s.public.budget_cny == 25_000_000.0
    assert s.public.township_full_coverage is False
    assert s.distance.mode == "network"
    assert s.ev.evs_by_county == {"520402": 12000.0}
    # untouched keys keep the packaged default
    assert s.public.county_seat_radius_km == 3.0


def test_set_malformed():
    with pytest.raises(ConfigError, match="expected section.key=value"):
        apply_overrides({}, ["public.township_radius_km"])
    with pytest.raises(ConfigError, match="empty key"):
        apply_overrides({}, ["public..x=1"])


def test_apply_overrides_does_not_mutate_input():
    data = {"public": {"township_radius_km": 10.0}}
    out = apply_overrides(data, ["public.township_radius_km=5"])
    assert data == {"public": {"township_radius_km": 10.0}}
    assert out == {"public": {"township_radius_km": 5}}


def test_extends_chain_merges_key_by_key(tmp_path):
    _write(tmp_path / "base.toml", "name='base'\n[public]\ntownship_radius_km = 8.0\ncounty_seat_radius_km = 4.0\n"
                                   "[solver]\ntime_limit_s = 30\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    _write(sub / "mid.toml", "extends = '../base.toml'\n[public]\ncounty_seat_radius_km = 2.5\n")
    leaf = _write(sub / "leaf.toml", "extends = 'mid.toml'\nname = 'leaf'\n[public]\nmode = 'max_cover'\n")
    s = load_scenario(leaf, overrides=["solver.time_limit_s=45"])
    assert s.name == "leaf"
    assert s.public.township_radius_km == 8.0  # from base, two levels up
    assert s.public.county_seat_radius_km == 2.5  # mid overrides base
    assert s.public.mode == "max_cover"  # leaf
    assert s.solver.time_limit_s == 45  # --set wins over everything (threads would be bounded by the cores)
    assert s.public.city_core_radius_km == Scenario().public.city_core_radius_km  # model default


def test_extends_cycle_detected(tmp_path):
    _write(tmp_path / "a.toml", "extends = 'b.toml'\n")
    _write(tmp_path / "b.toml", "extends = 'c.toml'\n")
    _write(tmp_path / "c.toml", "extends = 'a.toml'\n")
    with pytest.raises(ConfigError, match=r"cycle: a\.toml -> b\.toml -> c\.toml -> a\.toml"):
        load_scenario(tmp_path / "a.toml")


def test_extends_missing_file_named(tmp_path):
    f = _write(tmp_path / "a.toml", "extends = 'nowhere.toml'\n")
    with pytest.raises(ConfigError) as exc:
        load_scenario(f)
    assert "nowhere.toml" in str(exc.value) and str(f) in str(exc.value)


def test_extends_falls_back_to_packaged_models(tmp_path):
    f = _write(tmp_path / "mine.toml", "extends = 'anshun.toml'\n[public]\ntownship_radius_km = 8.0\n")
    s = load_scenario(f)
    assert s.public.township_radius_km == 8.0
    assert s.distance.circuity == 1.3  # anshun.toml's override
    assert s.name == "anshun"


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_scenario(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenario(_write(tmp_path / "bad.toml", "[public\n"))


@pytest.mark.parametrize("stem", [*PREFECTURE_FILES, "province", "default"])
def test_packaged_models_load_and_roundtrip(stem):
    path = models_dir() / f"{stem}.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    if stem != "default":
        assert raw["extends"] == "default.toml"
    s = load_scenario(path)
    # every key a file sets is what the scenario ends up with
    def check(node, values, where):
        for key, value in values.items():
            if key == "extends":
                continue
            got = getattr(node, key)
            if isinstance(value, dict) and not isinstance(got, dict):
                check(got, value, f"{where}{key}.")
            else:
                assert got == value, (stem, where + key)

    check(s, raw, "")
    back = scenario_from_dict(tomllib.loads(scenario_to_toml(s)))
    assert back == s


def test_default_toml_documents_every_public_key():
    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    s = Scenario()
    for node in (s.ev, s.public, s.public.candidate_cost_cny, s.distance, s.solver, s.tiers):
        for key in type(node).model_fields:
            if isinstance(getattr(node, key), Scenario.__mro__[1]):  # a sub-table: [public.candidate_cost_cny]
                assert f".{key}]" in text, key
                continue
            assert f"\n{key} =" in text or f"\n# {key} =" in text, key
            # a comment explains the key (directly above it or above its group of keys)
            before = text.split(f"\n{key} =" if f"\n{key} =" in text else f"\n# {key} =")[0].split("\n")
            while before and "=" in before[-1] and not before[-1].startswith("#"):
                before.pop()
            assert before and before[-1].startswith("#"), key


def test_default_scenario_path_names_and_codes():
    assert default_scenario_path("安顺市").name == "anshun.toml"
    assert default_scenario_path(520300).name == "zunyi.toml"
    assert default_scenario_path("黔东南苗族侗族自治州").name == "qiandongnan.toml"
    assert default_scenario_path("520402").name == "anshun.toml"  # a county -> its prefecture
    assert default_scenario_path("贵州省").name == "province.toml"
    assert default_scenario_path(None).name == "default.toml"
    with pytest.raises(ConfigError, match="no packaged scenario"):
        default_scenario_path("北京市")


def test_scenario_path_falls_back_to_packaged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_scenario("models/zunyi.toml")
    assert s.name == "zunyi"


def test_highway_section_is_validated():
    s = Scenario()
    if "highway" not in Scenario.model_fields:
        pytest.skip("highway params not available")
    with pytest.raises(ConfigError, match=r"highway\.max_gap_kms: unknown key; did you mean highway\.max_gap_km\?"):
        load_scenario(overrides=["highway.max_gap_kms=40"])
    assert load_scenario(overrides=["highway.max_gap_km=40"]).highway.max_gap_km == 40.0
    assert s.highway is not None


def test_minutes_radius_and_km_radius_both_set_is_an_error():
    with pytest.raises(ConfigError) as exc:
        load_scenario(overrides=["public.township_radius_km=8", "public.township_radius_min=15"])
    msg = str(exc.value)
    assert "public.township_radius_km" in msg and "public.township_radius_min" in msg and "both set" in msg
    # the minutes key alone is fine and leaves the other tiers on their km radius
    sc = load_scenario(overrides=["public.township_radius_min=15"])
    assert sc.public.radius_min("township") == 15.0 and sc.public.radius_min("city") is None
    assert sc.public.minute_radius_keys() == {"public.township_radius_min": 15.0}


def test_minutes_radius_without_network_is_an_error():
    from gzcharge.tiers.public import _rule_costs

    sc = load_scenario(overrides=["public.township_radius_min=15"])
    with pytest.raises(ConfigError, match=r"public\.township_radius_min: a travel-time radius needs the road "
                                          r"network \(run with --network"):
        _rule_costs(None, None, sc, None, None, None, None)


def test_minutes_radius_replaces_an_inherited_km_radius(tmp_path):
    # default.toml sets township_radius_km = 10; a child file or --set giving the minutes key replaces it
    child = tmp_path / "child.toml"
    child.write_text('extends = "default.toml"\nname = "child"\n[public]\ntownship_radius_min = 12\n', encoding="utf-8")
    sc = load_scenario(child)
    assert sc.public.radius_min("township") == 12.0 and "township_radius_km" not in sc.public.model_fields_set
    assert sc.public.county_seat_radius_km == 3.0  # other tiers keep the file's km radius
    # and back: a --set km radius replaces the child's minutes radius
    sc2 = load_scenario(child, overrides=["public.township_radius_km=7"])
    assert sc2.public.radius_min("township") is None and sc2.public.radius_m("township") == 7000.0
    # one file giving both is an error naming both keys
    both = tmp_path / "both.toml"
    both.write_text('extends = "default.toml"\nname = "both"\n[public]\ntownship_radius_min = 12\n'
                    "township_radius_km = 8\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"township_radius_km and public\.township_radius_min are both set"):
        load_scenario(both)
