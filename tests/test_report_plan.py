"""The planning report of a real 安顺市 plan in Chinese and English, its workbook, and the compare report."""

from __future__ import annotations

import re

import pandas as pd
import pyogrio
import pytest

from gzcharge.export import i18n
from tests.test_compare import tiny_pair  # noqa: F401 - the hand-made pair of plans with known changes

_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def plan():
    from gzcharge.plan import PlanInputs, run_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    region = get_region("安顺市")
    path = default_scenario_path(str(region.code))
    overrides = ["solver.mip_rel_gap=0.05"]  # the report, not the optimum, is under test
    scen = load_scenario(path, overrides=overrides)
    return run_plan(region, scen, PlanInputs(scenario_file=str(path), overrides=overrides))


@pytest.fixture(scope="module")
def written(plan, tmp_path_factory):
    from gzcharge.plan import write_plan

    out = tmp_path_factory.mktemp("report")
    return {lang: write_plan(plan, out / f"anshun_{lang}.gpkg", lang=lang) for lang in ("zh", "en")}


def test_every_section_title_and_column_has_chinese(plan) -> None:
    from gzcharge.export.plan_report import plan_sections

    sections = plan_sections(plan, "zh")
    assert i18n.missing_translations(sections) == []
    titles = [i18n.tr(t, "zh") for t, _ in sections]
    for want in ("概况", "规划规则、假设与来源", "情景参数取值与来源", "公共充电：分县达标情况", "未达标目标", "车队换电站", "重卡加氢站",
                 "高速公路快充"):
        assert want in titles


def test_chinese_report_files_and_county_table(plan, written) -> None:
    names = sorted(p.name for p in written["zh"])
    assert names == ["anshun_zh.gpkg", "anshun_zh.qgz", "anshun_zh_report.html", "anshun_zh_report.md",
                     "anshun_zh_report.png", "anshun_zh_tables.xlsx"]
    md = next(p for p in written["zh"] if p.name.endswith(".md")).read_text(encoding="utf-8")
    assert md.startswith("# 安顺市充电基础设施规划说明")
    assert "县 county" not in md and "| EVs |" not in md
    table = md.split("## 公共充电：分县达标情况\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    head = [c.strip() for c in table[0].strip("|").split("|")]
    assert head[:3] == ["县代码", "名称", "电动汽车（辆）"] and "投资（万元）" in head
    assert not any(_LATIN.search(h) for h in head)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    counties = pd.DataFrame(plan.public.counties).set_index("adcode")
    assert sorted(r[0] for r in rows) == sorted(counties.index.astype(str))
    cost_col = head.index("投资（万元）")
    for r in rows:
        c = counties.loc[r[0]]
        assert r[1] == c["name"]
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", r[2]) and int(r[2].replace(",", "")) == round(c["evs"])
        assert float(r[cost_col].replace(",", "")) == pytest.approx(c["cost_cny"] / 1e4, abs=0.0501)  # shown to 0.1 万元
    # rules with their sources: the scenario's documented keys, value in force (after --set)
    assert "| public.township_radius_km | 10 |" in md
    assert re.search(r"\| ev\.stock_by_year \| 2022 = 165,000, 2026 = 700,000 \|  \| .*165,000 at the end of 2022", md)
    assert re.search(r"\| ev\.stock_growth_after \| 0\.15 \| 假设 \| .*Assumption: 0\.15", md)
    assert "乡镇全覆盖 = 是" in md and "分车队换电" in md
    lines = md.splitlines()
    headers = [lines[i - 1] for i, line in enumerate(lines) if line.startswith("|---")]
    assert [h for h in headers if _LATIN.search(h)] == []  # every table header of the plan is in Chinese
    html = next(p for p in written["zh"] if p.name.endswith(".html")).read_text(encoding="utf-8")
    assert html.count('<div class="table-wrap">') == md.count("\n|---") and "overflow-x:auto" in html


def test_workbook_has_the_county_table_in_chinese(plan, written) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(next(p for p in written["zh"] if p.suffix == ".xlsx"))
    assert "公共充电：分县达标情况" in wb.sheetnames and "分车队换电" in wb.sheetnames
    rows = list(wb["公共充电：分县达标情况"].iter_rows(values_only=True))
    head = list(rows[0])
    counties = pd.DataFrame(plan.public.counties).set_index("adcode")
    assert len(rows) - 1 == len(counties)
    got = {r[0]: r for r in rows[1:]}
    j_ev, j_cost = head.index("电动汽车（辆）"), head.index("投资（万元）")
    for code, c in counties.iterrows():
        assert got[str(code)][j_ev] == round(c["evs"])  # a number, not text
        assert got[str(code)][j_cost] * 1e4 == pytest.approx(c["cost_cny"])


def test_english_report_and_project(written) -> None:
    md = next(p for p in written["en"] if p.name.endswith(".md")).read_text(encoding="utf-8")
    assert md.startswith("# Charging facility plan — 安顺市 (anshun)")
    assert "## Public charging: county compliance" in md and "| adcode | name | EVs |" in md
    assert "## Battery swap (换电) for fleets" in md
    layers = {n for n, _ in pyogrio.list_layers(next(p for p in written["en"] if p.suffix == ".gpkg"))}
    assert {"counties", "public_stations", "swap_stations"} <= layers
    assert any(p.suffix == ".qgz" for p in written["en"])


#: Characters that separate words of a Chinese text: CJK ideographs and full-width punctuation.
_CJK_BREAK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef——…]")


def english_runs(line: str, n: int = 3) -> list[str]:
    """Runs of ``n`` or more English words in a row in ``line``.

    An English word is a token made of ASCII letters only (``road``, ``FILE``), once the text is
    split at white space and at every CJK character or full-width punctuation mark, and ASCII
    punctuation around the token (``,;:.()``) is dropped. Ids, keys, flags, units and file names
    (``swap.min_utilisation``, ``--townships``, ``battery_stock``, ``kWh/day``, ``2,027``) are not
    words, and one or two words in a row (``OSM``, ``source … estimated``, ``scgraph_data，ODbL``)
    are names or codes; three words in a row are English prose.
    """
    runs, run = [], []
    for tok in _CJK_BREAK.sub(" \x00 ", line).split():
        word = tok.strip(",;:.()[]\"'!?*`")
        if word.isascii() and word.isalpha():
            run.append(word)
            continue
        if len(run) >= n:
            runs.append(" ".join(run))
        run = []
    if len(run) >= n:
        runs.append(" ".join(run))
    return runs


def test_english_runs_finds_prose_not_codes() -> None:
    assert english_runs("pass --townships FILE for real seats") == ["FILE for real seats"]
    assert english_runs("道路骨架：OSM 干线道路（取自 scgraph_data，ODbL 许可）") == []
    assert english_runs("每站至少 2 个（swap.min_utilisation, battery_stock）; kWh/day") == []
    assert english_runs("说明：road skeleton: OSM trunk roads") == ["road skeleton OSM trunk roads"]
    assert english_runs("共 20 座快充站（no road class）") == ["no road class"]


def test_chinese_notes_are_chinese(plan, written) -> None:
    """Every note of the default 安顺市 plan reads in Chinese in the zh report, and in English in the en one."""
    title = i18n.tr("Notes and assumptions", "zh")
    md = next(p for p in written["zh"] if p.name.endswith(".md")).read_text(encoding="utf-8")
    body = md.split(f"## {title}\n\n", 1)[1].split("\n## ", 1)[0]
    notes = [ln[2:] for ln in body.splitlines() if ln.startswith("- ")]
    assert len(notes) == len(plan.notices) > 5  # one bullet per notice and no lead line saying "English kept"
    assert i18n.MESSAGES["notes.english"]["zh"] not in md and i18n.untranslated(plan.notices) == []
    for line in notes:
        assert _HAN.search(line), line
        assert english_runs(line) == [], line
    # the tier's own text in the highway section ("说明：" + the road skeleton note) too
    hw = md.split("## 高速公路快充\n\n", 1)[1].split("\n## ", 1)[0]
    assert "- 高速公路走廊数据：道路骨架：OSM 干线道路" in hw
    assert [english_runs(ln) for ln in hw.splitlines() if english_runs(ln)] == []
    # the English report keeps the English notes word for word
    md_en = next(p for p in written["en"] if p.name.endswith(".md")).read_text(encoding="utf-8")
    en_body = md_en.split("## Notes and assumptions\n\n", 1)[1].split("\n## ", 1)[0]
    assert [ln[2:] for ln in en_body.splitlines() if ln.startswith("- ")] == [str(n) for n in plan.notices]
    assert "public: distances: screening (circuity 1.3)" in en_body
    assert "swap: no --fleets FILE: fleets are the documented per-capita defaults of [swap]" in en_body


def test_compare_report_with_diff_map(tiny_pair, tmp_path) -> None:  # noqa: F811
    import matplotlib.image as mpimg
    import numpy as np
    from openpyxl import load_workbook

    from gzcharge.compare import compare_plans, write_comparison_report

    comp = compare_plans(*tiny_pair)
    out = write_comparison_report(comp, tmp_path / "diff", lang="zh")
    assert sorted(p.name for p in out) == ["diff_report.html", "diff_report.md", "diff_report.png",
                                           "diff_tables.xlsx"]
    md = (tmp_path / "diff_report.md").read_text(encoding="utf-8")
    # the hand-made pair (tests/test_compare.py): public 2 added, 2 removed, 3 resized, 2 unchanged; the bus swap
    # station enlarged, the taxi one unchanged; one hydrogen station added -> 3 / 2 / 4 / 3
    assert "- 站点：新增 3，移除 2，扩容/缩减 4，不变 3。" in md
    # cost: A 4.4 M + 5 M = 940 万元; B 4.4 M + 5 M + 15 M = 2,440 万元
    assert "- 投资：方案A 940.0 万元，方案B 2,440.0 万元（变化 1,500.0 万元）。" in md
    assert "| 公共充电站 | 2 | 2 | 3 | 2 | 1 | 2 |" in md
    assert "## 站点变化" in md and "## 分县覆盖率变化" in md and "## 乡镇覆盖变化" in md
    img = mpimg.imread(tmp_path / "diff_report.png")[..., :3]
    green = np.array([0x1A, 0x96, 0x41]) / 255  # 新增 (added) marker colour of the compare styles
    red = np.array([0xD7, 0x19, 0x1C]) / 255    # 移除 (removed)
    for colour in (green, red):
        assert (np.abs(img - colour).max(axis=2) < 0.02).sum() > 20
    wb = load_workbook(tmp_path / "diff_tables.xlsx")
    assert wb.sheetnames == ["汇总", "站点变化", "分县覆盖率变化", "乡镇覆盖变化"]
    en = write_comparison_report(comp, tmp_path / "diff_en", lang="en")
    md_en = next(p for p in en if p.suffix == ".md").read_text(encoding="utf-8")
    assert "- Sites: 3 added, 2 removed, 4 resized, 3 unchanged." in md_en
    assert "- Cost: A 9.40 million CNY, B 24.40 million CNY (change 15.00 million CNY)." in md_en


def test_sweep_row_has_cost_without_the_fixed_swap_cost(plan) -> None:
    from gzcharge.sweep import plan_row

    row = plan_row(plan)
    layers = plan.layers()
    cost = {name: float(layers[name]["cost_cny"].sum()) for name in ("public_stations", "highway_stations",
                                                                     "swap_stations", "hydrogen_stations")
            if name in layers and "cost_cny" in layers[name]}
    assert cost["swap_stations"] > 0 and row["total_cost_cny"] == pytest.approx(sum(cost.values()))
    assert row["cost_excl_swap_cny"] == pytest.approx(sum(v for k, v in cost.items() if k != "swap_stations"))


def test_unmet_targets_in_chinese_follow_the_tier_rules() -> None:
    from gzcharge.export.i18n import tr
    from gzcharge.plan import PlanInputs, run_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    region = get_region("安顺市")
    path = default_scenario_path(str(region.code))
    overrides = ["tiers.swap=false", "public.budget_cny=2.5e7", "public.fallback_max_cover=true",
                 "solver.mip_rel_gap=0.05"]
    plan = run_plan(region, load_scenario(path, overrides=overrides), PlanInputs(scenario_file=str(path)))
    pub = plan.public
    assert pub.unmet  # 2,500 万元 cannot cover every township (the min-cost plan costs about 6,200 万元)
    section = dict(plan.results["public"].sections)["Unmet targets"]
    # the English messages are word for word the tier's own unmet_targets text (a second route to the same rules)
    assert [tr(m, "en") for m in section] == list(pub.unmet)
    zh = [tr(m, "zh") for m in section]
    assert all(_HAN.search(z) and "uncovered" not in z and "coverage" not in z for z in zh)
    assert any("未覆盖乡镇" in z or "覆盖率" in z or "充电站" in z for z in zh)
