"""Report language: the message catalogue, number formats for people, tables in zh/en, the workbook."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pandas as pd
import pytest

from gzcharge.errors import ConfigError, ExportError
from gzcharge.export import i18n
from gzcharge.export.i18n import display_table, fmt_cost, fmt_int, fmt_pct, fmt_share, msg, tr

_HAN = re.compile(r"[\u4e00-\u9fff]")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_message_has_both_languages_with_the_same_fields() -> None:
    for key, entry in i18n.MESSAGES.items():
        assert set(entry) == {"en", "zh"}, key
        assert _fields(entry["en"]) == _fields(entry["zh"]), key
    for title, entry in i18n.TITLES.items():
        assert entry.get("zh") and _HAN.search(entry["zh"]), title
    for col, (en, zh) in i18n.COLUMNS.items():
        assert en and zh and _HAN.search(zh), col  # a Chinese header, not a copy of the English one


def test_number_formats() -> None:
    # by hand: 62,260,000 CNY = 6,226 万元; 141,915,000 CNY = 1.41915 亿元 -> 1.42
    assert fmt_cost(62_260_000, "zh") == "6,226.0 万元"
    assert fmt_cost(141_915_000, "zh") == "1.42 亿元"
    assert fmt_cost(141_916_000, "en") == "141.92 million CNY"
    assert fmt_cost(480_000, "en") == "480,000 CNY"
    assert fmt_int(12_526.71) == "12,527"
    assert fmt_pct(91.80327) == "91.8%"
    assert fmt_share(0.97128) == "97.1%"
    assert fmt_int(float("nan")) == "" and fmt_cost(None, "zh") == ""


def test_messages_render_in_each_language() -> None:
    m = msg("public.targets", full=msg("yes"), cov=0.95, per=500)
    assert tr(m, "zh") == "硬性目标：乡镇全覆盖 = 是；每县至少 95.0% 的电动汽车在服务半径内；每县每 500 辆电动汽车至少 1 座充电站。"
    assert tr(m, "en").startswith("Hard targets: every township covered (乡镇全覆盖) = yes; each county ≥ 95.0%")
    assert tr(msg("overview.status", status="time_limit_feasible"), "zh") == "求解状态：达到时间上限，得到可行方案。"
    assert tr("Hydrogen phases", "zh") == "加氢站分期建设"
    assert tr("a title nobody translated", "zh") == "a title nobody translated"
    assert str(msg("none")) == "none"
    with pytest.raises(KeyError, match="no message"):
        msg("no.such.key")
    import pickle

    m2 = pickle.loads(pickle.dumps(m))
    assert isinstance(m2, i18n.Msg) and m2 == m and tr(m2, "zh") == tr(m, "zh")
    assert " | ".join([m, "x"]).endswith(" | x")  # a message is its English text
    with pytest.raises(ConfigError, match="--lang 'fr'"):
        i18n.check_lang("fr")
    assert i18n.default_lang("520400") == "zh" and i18n.default_lang("my_area") == "en"


def _county_frame() -> pd.DataFrame:
    return pd.DataFrame({"adcode": ["520402", "520403"], "name": ["西秀区", "平坝区"],
                         "evs": [12526.71, 5124.9], "stations": [26, 11], "city_coverage_pct": [91.80327, None],
                         "cost_cny": [24_880_000.0, 9_920_000.0], "unmet_targets": ["", "township 2 km"]})


def test_county_table_for_people_zh_and_en() -> None:
    zh = display_table(_county_frame(), "zh")
    assert list(zh.columns) == ["县代码", "名称", "电动汽车（辆）", "充电站（座）", "城市核心区覆盖率", "投资（万元）", "未达标目标"]
    assert not any(re.search(r"[A-Za-z]", c) for c in zh.columns)  # no mixed "县 county" headers
    # 12,526.71 EVs -> 12,527; 24,880,000 CNY = 2,488.0 万元; 91.803 % -> 91.8%
    assert zh.iloc[0].tolist() == ["520402", "西秀区", "12,527", "26", "91.8%", "2,488.0", ""]
    assert zh.iloc[1, 4] == ""  # no city core in 平坝区: empty, not "nan"
    en = display_table(_county_frame(), "en")
    assert list(en.columns) == ["adcode", "name", "EVs", "stations", "city core %", "cost (million CNY)",
                                "unmet targets"]
    assert en.iloc[0, 5] == "24.88"
    # a cost column reaching 10 亿 switches the whole column to 亿元
    big = display_table(pd.DataFrame({"cost_cny": [1.2e9, 3e7]}), "zh")
    assert list(big.columns) == ["投资（亿元）"] and big.iloc[:, 0].tolist() == ["12.00", "0.30"]


def test_years_codes_shares_and_categories() -> None:
    frame = pd.DataFrame({"tier": ["public", "swap", "total"], "year": [2022, 2025, "total"],
                          "share_of_total": [0.37, 0.56, 1.0], "phase_year": pd.array([2022, None, 2024], dtype="Int64")})
    zh = display_table(frame, "zh")
    assert zh.to_dict("list") == {"层级": ["公共充电", "换电", "合计"], "年份": ["2022", "2025", "合计"],
                                  "占总投资比例": ["37.0%", "56.0%", "100.0%"], "建设年份": ["2022", "", "2024"]}
    # comparison columns: <col>_a, <col>_b, d_<col>
    assert i18n.column_label("d_coverage_pct", "zh") == "覆盖率变化"
    assert i18n.column_label("cost_cny_b", "en") == "cost B"


def test_missing_translations_names_untranslated_titles_and_columns() -> None:
    sections = [("Overview", "x"), ("Reality check", pd.DataFrame({"adcode": [1], "mystery_col": [2]}))]
    assert i18n.missing_translations(sections) == ["title 'Reality check'", "column 'mystery_col' of 'Reality check'"]


def test_report_sections_of_messages_lists_and_tables(tmp_path: Path) -> None:
    from gzcharge.export.report import write_report

    sections = [("Overview", [msg("overview.status", status="optimal"), "plain text"]),
                ("Public charging: county compliance", _county_frame())]
    out = write_report(tmp_path / "r.md", title=msg("report.title", region="安顺市", scenario="anshun"),
                       sections=sections, lang="zh")
    md = out["md"].read_text(encoding="utf-8")
    assert md.startswith("# 安顺市充电基础设施规划说明（情景：anshun）")
    assert "## 概况\n\n- 求解状态：最优。\n- plain text" in md
    assert "| 520402 | 西秀区 | 12,527 | 26 | 91.8% | 2,488.0 |  |" in md
    page = out["html"].read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and 'name="viewport"' in page
    assert '<div class="table-wrap"><table>' in page and ".table-wrap{max-width:100%;overflow-x:auto" in page
    assert '<td class="num">12,527</td>' in page and "<td>西秀区</td>" in page
    with pytest.raises(ExportError, match="content must be Markdown text"):
        write_report(tmp_path / "x.md", title="t", sections=[("x", 3)])


def test_xlsx_one_sheet_per_table_numbers_stay_numbers(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from gzcharge.export.xlsx import write_xlsx

    path = write_xlsx(tmp_path / "t.xlsx", [("Public charging: county compliance", _county_frame()),
                                            ("Timings (s)", pd.DataFrame({"stage": ["public"], "seconds": [1.5]}))],
                      lang="zh")
    wb = load_workbook(path)
    assert wb.sheetnames == ["公共充电：分县达标情况", "计算用时（秒）"]
    ws = wb["公共充电：分县达标情况"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("县代码", "名称", "电动汽车（辆）", "充电站（座）", "城市核心区覆盖率", "投资（万元）", "未达标目标")
    assert rows[1][:6] == ("520402", "西秀区", 12527, 26, pytest.approx(91.80327), pytest.approx(2488.0))
    assert ws["C2"].number_format == "#,##0" and ws["F2"].number_format == "#,##0.0"
    assert len(rows) == 3
    with pytest.raises(ExportError, match="must end in .xlsx"):
        write_xlsx(tmp_path / "t.csv", [("x", _county_frame())])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.xlsx"]


def test_sheet_names_are_valid_and_unique() -> None:
    from gzcharge.export.xlsx import sheet_name

    taken: set[str] = set()
    assert sheet_name("Cost by tier/year: [all]", taken) == "Cost by tier year   all"
    long = "x" * 40
    assert sheet_name(long, taken) == "x" * 31
    assert sheet_name(long, taken) == "x" * 27 + " (2)"


def test_cli_version_flag() -> None:
    from typer.testing import CliRunner

    from gzcharge import __version__
    from gzcharge.cli import app

    runner = CliRunner()
    for args in (["--version"], ["version"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and res.output.strip() == __version__


def test_joint_plan_messages_name_tiers_and_yearly_targets() -> None:
    m = msg("joint.targets", targets={"public": [0.5, 0.95], "swap": [0.25, 1.0]}, hard=2025)
    assert tr(m, "zh") == "分年度目标（需求满足比例）：公共充电 50.0% → 95.0%；换电 25.0% → 100.0%；硬性规则自 2025 年起执行。"
    assert tr(m, "en") == ("Targets by year (share of demand served): public charging 50.0% → 95.0%; battery swap "
                           "25.0% → 100.0%; hard rules from 2025.")
    assert tr(msg("joint.driver", tier="swap"), "zh") == "投资主要来自：**换电**。"


def test_highway_hydrogen_and_joint_tables_translate() -> None:
    # the tables those tiers put in the report (highway/model.py, tiers/hydrogen.py, joint.py)
    phases = pd.DataFrame({"phase": [1, 2], "name": ["一期", "二期"], "year": [2025, 2030], "new_stations": [3, 2],
                           "refuelled_flow": [120.4, 300.2], "cost_cny": [3e7, 2e7],
                           "status": ["optimal", "time_limit_feasible"], "gap": [0.001, 0.0]})
    tables = [
        ("Hydrogen phases", phases),
        ("Highway by prefecture", pd.DataFrame(columns=["prefecture", "corridor_km", "stations", "new", "existing",
                                                        "plugs", "kw", "cost_cny", "longest_stretch_km", "gap_ok"])),
        ("Highway corridors", pd.DataFrame(columns=["component", "refs", "length_km", "stations", "new", "plugs",
                                                    "longest_stretch_km", "gap_ok"])),
        ("Hydrogen candidates excluded by the supply rule",
         pd.DataFrame(columns=["site_id", "name", "supply_source", "supply_km", "reason"])),
        ("What a marginal budget buys", pd.DataFrame(columns=["change", "extra_budget_cny", "objective",
                                                              "delta_objective", "delta_per_million_cny", "status",
                                                              "gap", "method"])),
    ]
    assert i18n.missing_translations(tables) == []
    zh = display_table(phases, "zh")
    # 30,000,000 CNY = 3,000 万元; 120.4 trucks/day -> 120; gap 0.001 -> 0.1%
    assert zh.iloc[0].tolist() == ["1", "一期", "2025", "3", "120", "3,000.0", "最优", "0.1%"]
    assert zh.iloc[1, 6] == "达到时间上限，得到可行方案"


#: ASCII words a Chinese reality-check table may keep: units and codes (kW; the CLI flag --existing).
_REALITY_ZH_ALLOWED = {"kW", "existing"}


def test_zh_reality_check_table_has_no_english_words(tmp_path: Path) -> None:
    """A zh report's reality-check table is Chinese in every cell: only the listed units/codes are ASCII words."""
    from gzcharge.plan import PlanInputs, run_plan, write_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    reg = get_region("安顺市")
    scen = load_scenario(default_scenario_path(str(reg.code)),
                         overrides=["tiers.public=true", "tiers.highway=false", "tiers.swap=false",
                                    "tiers.hydrogen=false", "solver.mip_rel_gap=0.05", "solver.time_limit_s=15"])
    plan = run_plan(reg, scen, PlanInputs())
    write_plan(plan, tmp_path / "plan.gpkg", lang="zh", qgis_project=False)
    md = next(tmp_path.glob("*_report.md")).read_text(encoding="utf-8")
    title = tr("Reality check: the plan against published figures", "zh")
    assert title == "合理性检验：规划与公开数据对照"
    lines = md.split(title, 1)[1].splitlines()
    start = next(k for k, ln in enumerate(lines) if ln.startswith("|"))
    rows = []
    for ln in lines[start:]:
        if not ln.startswith("|"):
            break
        rows.append(ln)
    body = rows[2:]  # header and the |---| rule, then one row per indicator
    assert len(body) == 9  # the nine indicators of reality_check
    assert rows[0].split("|")[1].strip() == "指标"
    words = set(re.findall(r"[A-Za-z]+", "\n".join(rows)))
    assert words <= _REALITY_ZH_ALLOWED, words - _REALITY_ZH_ALLOWED
    # the English report keeps the English texts (the same catalogue, other language)
    en = i18n.display_table(plan.results["public"].sections[[t for t, _ in plan.results["public"].sections].index(
        "Reality check: the plan against published figures")][1], "en")
    assert en.iloc[0, 0] == f"NEVs in the region, {scen.ev.year}"
    assert "Ministry of Public Security" in en.iloc[1, 3]


def test_plan_notes_render_in_chinese_with_their_values() -> None:
    """Notes are messages: the English text is the note as the planners' log always read; zh renders the values."""
    by = [msg("swap.fleet_rate", fleet="bus", rate=55.04), msg("swap.fleet_rate", fleet="taxi", rate=259.33)]
    m = msg("notes.tier", tier="swap", note=msg("swap.below_floor", n=20, swaps=407.4, floor=0.2, by=by))
    # the English text as the f-string wrote it: ", "-joined fleets with one decimal, 20% with no decimal
    assert m == ("swap: swap demand-driven: 20 fleet point(s) with 407 swaps/day stay with depot/public charging — no "
                 "candidate site reaches 20% of a station's capacity from them (swap.min_utilisation); by fleet: "
                 "bus 55.0/day, taxi 259.3/day")
    assert tr(m, "zh") == ("换电：换电按需求布局：20 个车队点（日换电 407 次）仍在场站或公共充电站充电——没有候选站点能从这些"
                           "车队获得达到换电站能力 20% 的需求（swap.min_utilisation）；分车队：公交 55.0 次/日、出租车 259.3 次/日")
    # 0.99 × 100% = 99.0% planned of a 100.0% target
    h = msg("notes.tier", tier="hydrogen", note=msg("hydrogen.phase_target", year=2, target=1.0, planned=0.99, f=0.99))
    assert h == ("hydrogen: hydrogen phase 2: the target of 100.0% of the flow is not reachable by the refuelling "
                 "rules; planned for 99.0% (99% of it)")
    assert tr(h, "zh") == "加氢：加氢站分期（2）：按加氢规则无法达到服务 100.0% 车流的目标；按 99.0% 规划（目标的 99%）"
    # 1418 stays without a thousands separator in English (as before); 15,470 km keeps its separator
    t = msg("demand.townships_estimated", n=1418, km=12.0)
    assert t.startswith("no township seats given: 1418 township demand points ESTIMATED on a 12 km hexagonal")
    assert tr(t, "zh").startswith("未提供乡镇驻地：在建成区以外按 12 公里六边形网格**估算**了 1418 个乡镇需求点")
    from gzcharge.sources.builtin import TRUNK_ROADS_LABEL

    k = msg("highway.skeleton", label=TRUNK_ROADS_LABEL, km=15470.2, gateways=46, vehicles=5000.0)
    assert k.startswith("road skeleton: OSM trunk roads via scgraph_data (ODbL): 15,470 km of expressways")
    assert tr(k, "zh") == ("道路骨架：OSM 干线道路（取自 scgraph_data，ODbL 许可）：高速公路及国道、省道干线共 15,470 公里"
                           "（数据中无道路等级）；46 个省界出入口，每个按过境交通 5,000 辆/日计（假设）")


def test_joined_notes_stay_messages_and_untranslated_names_plain_text() -> None:
    a, b = msg("hydrogen.no_sources"), msg("highway.gap_unmet", n=2, km=50.0)
    j = msg("notes.joined", items=[a, b])
    assert j == ("no hydrogen sources given: the supply rule was not applied; 2 stretch(es) longer than 50 km have no "
                 "candidate site (see unmet_windows)")
    assert tr(j, "zh") == "未提供氢源：未执行氢源距离约束；2 段长于 50 公里的路段没有候选站址（见 unmet_windows）"
    plain = "a note nobody translated"
    assert i18n.untranslated([a, j, msg("notes.tier", tier="public", note=a)]) == []
    assert i18n.untranslated([a, plain, msg("notes.tier", tier="public", note=plain),
                              msg("notes.joined", items=[a, plain])]) == [plain, f"public: {plain}", f"{a}; {plain}"]


def test_input_file_notes_render_in_chinese() -> None:
    from gzcharge.sources.files import mapping_note

    m = mapping_note("data/stations.csv", {"名称": "name", "经度": "lon"})
    assert m == "stations.csv: 名称→name, 经度→lon"
    assert tr(m, "zh") == "stations.csv 的表头对应：名称→name、经度→lon"
    d = msg("notes.pass_strict", note=msg("notes.rows_outside", flag="--existing", path="x.csv", n=2, total=9,
                                          region="安顺市", ids="a, b"))
    assert d == "--existing x.csv: 2 of 9 row(s) lie outside 安顺市 and are not used: a, b (pass --strict to make this an error)"
    assert tr(d, "zh") == "--existing x.csv：9 行中有 2 行位于安顺市范围以外，未使用：a, b（使用 --strict 可将此情况视为错误）"


def test_a_skipped_tier_says_english_kept_only_for_a_plain_reason() -> None:
    from gzcharge.highway.model import NO_EXPRESSWAY_NOTICE
    from gzcharge.tiers.base import TierResult

    r = TierResult.skipped_result("highway", "Highway fast charging", NO_EXPRESSWAY_NOTICE)
    text = tr(r.sections[0][1], "zh")
    assert text.startswith("本层级未运行。原因：未运行高速公路快充层级：没有高速公路数据") and "英文原文" not in text
    assert tr(r.sections[0][1], "en") == NO_EXPRESSWAY_NOTICE == r.notes[0]
    assert NO_EXPRESSWAY_NOTICE.startswith("highway tier skipped: no expressway data — give an OSM extract")
    plain = TierResult.skipped_result("swap", "Battery swap (换电) for fleets", "a plain reason")
    assert tr(plain.sections[0][1], "zh") == "本层级未运行。原因（英文原文）：a plain reason"
