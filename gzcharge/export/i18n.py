"""Report language: one message catalogue (English and Chinese) and number formats for people.

Report text is written once, in code, as messages; this module holds the words of both
languages in one place:

* :class:`Msg` — a message key plus its values; :func:`tr` renders it in a language. Keys are
  looked up in :data:`MESSAGES`; a plain string is looked up in :data:`TITLES` (section titles
  such as ``"Hydrogen phases"`` translate without a key) and is otherwise kept as it is.
* :data:`COLUMNS` — table column name -> (English, Chinese) header; ``<col>_a``, ``<col>_b`` and
  ``d_<col>`` (the two plans of a comparison and their difference) derive from ``<col>``.
* :data:`VALUES` — cell values of category columns (``tier = city`` -> 城市核心区).
* Formats: EV and station counts as integers with thousands separators, costs in 万元/亿元
  (Chinese) or million CNY (English), percentages with one decimal.

Message templates use :class:`str.format` fields with extra format specs: ``{x:int}`` (integer
with separators), ``{x:cost}`` (money in the report language), ``{x:pct}`` (a 0–100 value with
one decimal and ``%``), ``{x:share}`` (a 0–1 share as a percentage), ``{x:num}`` (a number
without trailing zeros), ``{x:status}`` (a solver status in words), ``{x:tiers}`` (tier names),
``{x:targets}`` (yearly target shares per tier), ``{x:list}`` (messages joined), ``{x:clist}`` (messages joined
by commas), ``{x:fleet}`` (a fleet type), ``{x:source}`` (the source of a :class:`gzcharge.facts.Fact` in the
report language). Any other spec is the usual format mini-language.

Notes of a plan (``Plan.notices``) are messages too; :func:`untranslated` names those that are still plain
text, so a report can say which notes keep their English wording.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["LANGS", "Msg", "msg", "tr", "default_lang", "check_lang", "fmt_int", "fmt_cost", "fmt_pct",
           "fmt_share", "column_label", "display_table", "sheet_table", "COLUMNS", "MESSAGES", "TITLES",
           "VALUES", "LAYER_NAMES", "missing_translations", "untranslated"]

LANGS = ("zh", "en")


def check_lang(lang: str) -> str:
    """``lang`` if it is a report language, else ``ConfigError``."""
    from gzcharge.errors import ConfigError

    if lang not in LANGS:
        raise ConfigError(f"--lang {lang!r}: choose zh (中文) or en (English)")
    return lang


def default_lang(region_code: str | int | None) -> str:
    """Chinese for Guizhou regions (adcodes 52xxxx), English for any other area."""
    return "zh" if str(region_code or "").startswith("52") else "en"


# =========================================================================== numbers
def _finite(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt_int(v: Any) -> str:
    """An integer with thousands separators (``12,527``); empty for missing values."""
    x = _finite(v)
    return "" if x is None else f"{round(x):,}"


def fmt_cost(v: Any, lang: str) -> str:
    """Money: ``6,226.0 万元`` / ``1.42 亿元`` in Chinese, ``62.26 million CNY`` in English."""
    x = _finite(v)
    if x is None:
        return ""
    if lang == "zh":
        return f"{x / 1e8:,.2f} 亿元" if abs(x) >= 1e8 else f"{x / 1e4:,.1f} 万元"
    return f"{x / 1e6:,.2f} million CNY" if abs(x) >= 1e6 else f"{x:,.0f} CNY"


def fmt_pct(v: Any) -> str:
    """A percentage given on 0–100, one decimal (``91.8%``)."""
    x = _finite(v)
    return "" if x is None else f"{x:.1f}%"


def fmt_share(v: Any) -> str:
    """A share given on 0–1 as a percentage with one decimal (``0.918`` -> ``91.8%``)."""
    x = _finite(v)
    return "" if x is None else f"{100 * x:.1f}%"


def _fmt_num(v: Any) -> str:
    x = _finite(v)
    if x is None:
        return str(v)
    if float(x).is_integer():
        return f"{int(x):,}" if abs(x) >= 1e4 else str(int(x))
    return f"{x:,.2f}".rstrip("0").rstrip(".") if abs(x) < 1e4 else f"{x:,.0f}"


class _Formatter(string.Formatter):
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "int":
            return fmt_int(value)
        if format_spec == "cost":
            return fmt_cost(value, self.lang)
        if format_spec == "pct":
            return fmt_pct(value)
        if format_spec == "share":
            return fmt_share(value)
        if format_spec == "num":
            return _fmt_num(value)
        if format_spec == "tiers":  # a tier name or a list of them
            names = [value] if isinstance(value, str) else list(value)
            words = [VALUES["tier"].get(n, (n, n))[0 if self.lang == "en" else 1] for n in names]
            return ("、" if self.lang == "zh" else ", ").join(words)
        if format_spec == "targets":  # {tier: [share per year]}
            if not value:
                return MESSAGES["none"][self.lang]
            sep = "；" if self.lang == "zh" else "; "
            return sep.join(f"{self.format_field(k, 'tiers')} " + " → ".join(fmt_share(x) for x in v)
                            for k, v in dict(value).items())
        if format_spec == "source":  # a gzcharge.facts.Fact: where it comes from, in the report language
            return (value.source_zh or value.source) if self.lang == "zh" else value.source
        if format_spec == "list":  # messages or texts, joined
            sep = "；" if self.lang == "zh" else "; "
            return sep.join(tr(x, self.lang) for x in value)
        if format_spec == "clist":  # messages or texts, joined by commas (a list inside one sentence)
            sep = "、" if self.lang == "zh" else ", "
            return sep.join(tr(x, self.lang) for x in value)
        if format_spec == "fleet":  # a fleet type name
            word = VALUES["fleet_type"].get(str(value))
            return str(value) if word is None else word[0 if self.lang == "en" else 1]
        if format_spec == "status":
            word = STATUS_WORDS.get(str(getattr(value, "value", value)))
            return str(getattr(value, "value", value)) if word is None else word[0 if self.lang == "en" else 1]
        if isinstance(value, Msg):
            return value.render(self.lang)
        return super().format_field(value, format_spec)


# =========================================================================== messages
class Msg(str):
    """A translatable message: a key of :data:`MESSAGES` and the values its templates use.

    A ``Msg`` *is* its English text (a ``str``), so code that logs, joins or stores it as text
    keeps working; the report renders it in its own language with :func:`tr`.
    """

    key: str
    args: Mapping[str, Any]

    def __new__(cls, key: str, args: Mapping[str, Any] | None = None) -> Msg:
        entry = MESSAGES.get(key)
        if entry is None:
            raise KeyError(f"no message {key!r} in gzcharge.export.i18n.MESSAGES")
        values = dict(args or {})
        obj = super().__new__(cls, _Formatter("en").format(entry["en"], **values))
        obj.key, obj.args = key, values
        return obj

    def __getnewargs__(self) -> tuple[str, dict[str, Any]]:  # pickling (e.g. dask workers)
        return self.key, dict(self.args)

    def render(self, lang: str) -> str:
        """The message in ``lang`` (English when the key has no ``lang`` text)."""
        entry = MESSAGES[self.key]
        return _Formatter(lang).format(entry.get(lang) or entry["en"], **self.args)


def msg(key: str, **args: Any) -> Msg:
    """Shorthand for ``Msg(key, args)``."""
    return Msg(key, args)


#: Message fields that hold other report text (a note, a list of notes): a message is only translated
#: when what these fields hold is translated too.
_TEXT_FIELDS = ("note", "items", "reason")


def untranslated(texts: Sequence[Any]) -> list[str]:
    """The texts among ``texts`` that render in English whatever the report language.

    A text is translated when it is a :class:`Msg` and every text it holds in a note/list field
    (``note``, ``items``, ``reason``) is translated too; plain strings are not.
    """
    def ok(x: Any) -> bool:
        if not isinstance(x, Msg):
            return False
        for name in _TEXT_FIELDS:
            v = x.args.get(name)
            if v is None:
                continue
            if isinstance(v, str):
                if not ok(v):
                    return False
            elif isinstance(v, Sequence) and not all(ok(y) for y in v):
                return False
        return True

    return [str(x) for x in texts if not ok(x)]


def tr(text: Any, lang: str) -> str:
    """Render a :class:`Msg`, translate a known title, or return the text unchanged."""
    if isinstance(text, Msg):
        return text.render(lang)
    text = str(text)
    if lang == "en":
        return text
    return TITLES.get(text, {}).get(lang, text)


#: Report messages by key: ``{"en": template, "zh": template}``.
MESSAGES: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ report frame
    "report.title": {"en": "Charging facility plan — {region} ({scenario})",
                     "zh": "{region}充电基础设施规划说明（情景：{scenario}）"},
    "report.map_title": {"en": "{region} charging facilities plan", "zh": "{region} 充电设施规划"},
    "overview.region": {"en": "Region: **{name}** ({code}, {kind}), {counties} counties, 2020 census population "
                                "{pop:int}.",
                        "zh": "规划范围：**{name}**（{code}，{kind}），辖 {counties} 个县级行政区，"
                              "2020 年第七次人口普查常住人口 {pop:int} 人。"},
    "overview.scenario": {"en": "Scenario: `{name}` {description}", "zh": "规划情景：`{name}`（{description}）"},
    "overview.distances": {"en": "Distances: **{mode}**; metric CRS {crs}.",
                           "zh": "距离计算：**{mode}**；投影坐标系 {crs}。"},
    "overview.townships_given": {"en": "Township seats: {source}.", "zh": "乡镇驻地：{source}。"},
    "overview.townships_estimated": {
        "en": "Township seats: none given — township demand is an ESTIMATED lattice (labelled).",
        "zh": "乡镇驻地：未提供，乡镇需求点为**估算**的规则网格（已标注），请用 --townships 提供实际驻地。"},
    "headline.missed": {"en": "**HARD RULES MISSED ({n:int})** — the plan below does not meet:",
                        "zh": "**未满足的硬性规则（{n:int} 项）**——以下规划未能满足："},
    "headline.item": {"en": "{tier}: {item}", "zh": "{tier:tiers}：{item}"},
    "overview.status": {"en": "Status: {status:status}.", "zh": "求解状态：{status:status}。"},
    "overview.overrides": {"en": "Overrides: `{overrides}`", "zh": "参数覆盖：`{overrides}`"},
    "overview.totals": {"en": "Total cost of the plan: **{cost:cost}**.", "zh": "规划总投资：**{cost:cost}**。"},
    "notes.english": {"en": "", "zh": "以下说明由程序生成，保留英文原文。"},
    "sources.intro": {
        "en": "Each rule and default number of the scenario with the explanation and source written beside it "
              "in the scenario file (`{file}`). Rows marked *assumption* are scenario choices, not measured "
              "facts: replace them with local figures when you have them.",
        "zh": "下表列出情景文件（`{file}`）中的各项规则与默认参数，以及文件中注明的含义与来源（原文为英文）。"
              "标为“假设”的参数是情景选择而非实测数据，有本地数据时请替换。"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "assumption": {"en": "assumption", "zh": "假设"},
    "fact": {"en": "", "zh": ""},
    "mode.network": {"en": "network", "zh": "路网距离"},
    "mode.screening": {"en": "screening", "zh": "直线距离×绕行系数（筛选）"},
    "kind.prefecture": {"en": "prefecture", "zh": "地级市/州"},
    "kind.province": {"en": "province", "zh": "省"},
    "kind.county": {"en": "county", "zh": "县级"},
    "kind.custom": {"en": "custom area", "zh": "自定义范围"},
    # ------------------------------------------------------------------ public tier
    "public.mode": {"en": "Mode: **{mode}**; solver status **{status:status}**, relative gap {gap:share} (solver "
                          "seconds: see --timings).",
                    "zh": "模型：**{mode}**；求解状态 **{status:status}**，相对间隙 {gap:share}（求解用时见 --timings）。"},
    "public.radius_min": {"en": "Travel-time radii (minutes of driving on the road graph) replace the km radius "
                                "for: {items}.",
                          "zh": "以下层级以路网行车时间（分钟）代替公里半径：{items}。"},
    "public.radius": {"en": "Service radius: city core {city:num} km, county seat {county:num} km, township "
                            "{township:num} km ({mode} distances{circuity}).",
                      "zh": "服务半径：城市核心区 {city:num} 公里，县城 {county:num} 公里，乡镇 {township:num} 公里"
                            "（{mode}{circuity}）。"},
    "public.circuity": {"en": ", circuity {c:num}", "zh": "，绕行系数 {c:num}"},
    "public.targets": {"en": "Hard targets: every township covered (乡镇全覆盖) = {full}; each county ≥ {cov:share} "
                             "of its EVs covered; at least one station per {per:int} EVs per county.",
                       "zh": "硬性目标：乡镇全覆盖 = {full}；每县至少 {cov:share} 的电动汽车在服务半径内；"
                             "每县每 {per:int} 辆电动汽车至少 1 座充电站。"},
    "public.ev_stock": {"en": "EV stock {year}: the province's NEV stock path ({stock:int} NEVs in {year}) shared out by "
                              "2020 census households × car-owning share (long-form sample) × the prefecture's "
                              "relative adoption (ev.adoption_by_prefecture), over all 88 counties.",
                        "zh": "{year} 年电动汽车保有量：全省新能源汽车保有量路径（{year} 年 {stock:int} 辆）按 2020 年普查"
                              "户数 × 有车户比例（长表抽样）× 所在市州相对普及程度（ev.adoption_by_prefecture）分配到全省 "
                              "88 个县。"},
    "public.budget": {"en": "Budget {budget}, station limit {limit}.", "zh": "预算 {budget}，站点数上限 {limit}。"},
    "public.unmet_budget": {"en": "budget {budget:,.0f} CNY cannot meet the hard targets: the cheapest compliant plan "
                                  "costs {cheapest:,.0f} CNY (sites and plugs)",
                            "zh": "预算 {budget:cost} 无法满足硬性目标：满足全部目标的最低投资为 {cheapest:cost}（站址与充电桩）"},
    "public.unmet_county": {"en": "{code} {name}: {items:list}", "zh": "{code} {name}：{items:list}"},
    "public.unmet_townships": {"en": "townships {what}: {n:int} ({names})", "zh": "{what}乡镇 {n:int} 个（{names}）"},
    "public.what_uncovered": {"en": "uncovered", "zh": "未覆盖的"},
    "public.what_own": {"en": "without a charger of their own", "zh": "没有自有充电站的"},
    "public.unmet_coverage": {"en": "coverage {pct:pct} < {target_pct:.0f}%",
                              "zh": "覆盖率 {pct:pct}，低于 {target_pct:.0f}%"},
    "public.unmet_stations": {"en": "stations {n:int} < {req:int} (1 per {per:num} EVs)",
                              "zh": "充电站 {n:int} 座，少于要求的 {req:int} 座（每 {per:num} 辆 1 座）"},
    "public.all_met": {"en": "All hard targets are met.", "zh": "全部硬性目标均已满足。"},
    "public.townships": {"en": "{covered:int} of {total:int} township points covered within {radius:num} km "
                                "(source: {source}).",
                         "zh": "{total:int} 个乡镇点中 {covered:int} 个在 {radius:num} 公里内有充电站（来源：{source}）。"},
    "public.estimated_lattice": {"en": "estimated lattice — not real seats", "zh": "估算网格，非实际驻地"},
    # ------------------------------------------------------------------ highway
    "highway.rules": {"en": "EV range {range:num} km nominal, derated ×{derate:num}; every trip counts its access legs "
                            "(county seat ↔ expressway); maximum gap between fast-charging sites {gap:num} km (JTG "
                            "service-area spacing).",
                      "zh": "电动汽车标称续航 {range:num} 公里，折减系数 ×{derate:num}；每次出行计入接入段（县城 ↔ "
                            "高速公路）；快充站最大间距 {gap:num} 公里（JTG 服务区间距）。"},
    "highway.corridors": {"en": "Corridors: {source}.", "zh": "高速公路走廊数据：{source}。"},
    "highway.sizing": {"en": "Sizing: holiday peak day × {holiday:num} of the average day, peak hour {peak:num} of the "
                             "day; every service area ≥ {share:.0%} of {spaces} small-car spaces as charging spaces "
                             "(2022 national action plan).",
                       "zh": "规模测算：节假日高峰日为平日的 {holiday:num} 倍，高峰小时占全天 {peak:num}；每个服务区至少 "
                             "{share:.0%} 的小客车车位（共 {spaces} 个）配建充电车位（2022 年国家行动方案）。"},
    "highway.result": {"en": "{stations:int} stations, {plugs:int} plugs.",
                       "zh": "共 {stations:int} 座快充站，{plugs:int} 个充电桩。"},
    "highway.note": {"en": "Note: {note}", "zh": "说明：{note}"},
    "highway.none": {"en": "No highway station was planned: {reason}",
                     "zh": "未规划高速公路快充站：{reason}"},
    "highway.why_no_candidates": {"en": "no candidate site on the expressways (no service area, existing site or "
                                        "synthetic site within reach).",
                                  "zh": "高速公路沿线没有候选站址（服务区、现有站点或补充站点均不可用）。"},
    "highway.why_short_trips": {"en": "no trip needs charging on the expressways: all {n:int} OD trip(s) are at most "
                                      "{km:num} km, a round trip on one home charge (highway.min_charging_trip_km).",
                                "zh": "没有出行需要在高速公路上充电：全部 {n:int} 个起讫点出行均不超过 {km:num} 公里，"
                                      "一次家充即可往返（highway.min_charging_trip_km）。"},
    "highway.why_existing": {"en": "the {n:int} existing fast-charging site(s) already keep every trip within the "
                                   "effective range of {range:num} km and every gap within {gap:num} km.",
                             "zh": "现有 {n:int} 个快充站已使全部出行在 {range:num} 公里有效续航内、站间距不超过 "
                                   "{gap:num} 公里。"},
    "highway.why_within_range": {"en": "every trip fits the effective range of {range:num} km and no corridor stretch "
                                       "is longer than the maximum gap of {gap:num} km.",
                                 "zh": "全部出行都在 {range:num} 公里有效续航内，且没有超过最大站间距 {gap:num} "
                                       "公里的路段。"},
    # ------------------------------------------------------------------ hydrogen
    "hydrogen.rules": {"en": "Fuel-cell heavy trucks: truck share {truck:num} of expressway vehicles × hydrogen share "
                             "{h2:num}; range {range:num} km; whole trips (access legs included).",
                       "zh": "燃料电池重卡：高速公路车流中货车比例 {truck:num} × 氢能比例 {h2:num}；续航 {range:num} "
                             "公里；按完整出行计算（含接入段）。"},
    "hydrogen.result": {"en": "{stations:int} stations, cost {cost:cost}; solver status **{status:status}**, gap {gap:share}.",
                        "zh": "共 {stations:int} 座加氢站，投资 {cost:cost}；求解状态 **{status:status}**，间隙 {gap:share}。"},
    # ------------------------------------------------------------------ swap
    "swap.mode": {"en": "Mode **{mode}**; solver status **{status:status}**, relative gap {gap:share} (solver seconds: "
                        "see --timings).",
                  "zh": "模型 **{mode}**；求解状态 **{status:status}**，相对间隙 {gap:share}（求解用时见 --timings）。"},
    "swap.fleets_file": {"en": "Fleets: {file}.", "zh": "车队数据：{file}。"},
    "swap.fleets_default": {"en": "Fleets: documented per-capita defaults of [swap] (vehicles per 10,000 urban "
                                  "residents).",
                            "zh": "车队数据：采用 [swap] 中的人均默认值（每万城镇人口车辆数），未提供车队文件。"},
    "swap.result": {"en": "{n:int} swap stations at {sites:int} sites serve {served:int} swaps/day; station cost "
                          "{station:cost} + extra battery packs {packs:cost}.",
                    "zh": "{sites:int} 个站址共 {n:int} 座换电站，日换电 {served:int} 次；建站投资 {station:cost}，"
                          "另购电池包 {packs:cost}。"},
    # ------------------------------------------------------------------ joint
    "joint.model": {"en": "One model over the tiers {tiers:tiers} for the years {years}; objective **{objective}**. Each "
                          "tier's data are prepared exactly as for its own plan.",
                    "zh": "对 {tiers:tiers} 各层级在 {years} 年统一建模；目标 **{objective}**。各层级数据与单独规划时完全相同。"},
    "joint.budgets": {"en": "Budgets per year: {budgets}{carry}; total budget: {total}.",
                      "zh": "年度预算：{budgets}{carry}；总预算：{total}。"},
    "joint.carry": {"en": " (unspent budget carries over)", "zh": "（未用预算结转下一年）"},
    "joint.targets": {"en": "Targets by year (share of demand served): {targets:targets}; hard rules from {hard}.",
                      "zh": "分年度目标（需求满足比例）：{targets:targets}；硬性规则自 {hard} 年起执行。"},
    "joint.stay": {"en": "Once built a site stays built; co-located sites (within {m:num} m) pay the shared land + grid "
                         "cost once.",
                   "zh": "站点建成后保留；相距 {m:num} 米以内的合建站点只计一次土地和电网接入费用。"},
    "joint.solver": {"en": "Solver status **{status}**, relative gap {gap:share}.",
                     "zh": "求解状态 **{status:status}**，相对间隙 {gap:share}。"},
    "joint.driver": {"en": "The tier that drives cost: **{tier:tiers}**.", "zh": "投资主要来自：**{tier:tiers}**。"},
    "none": {"en": "none", "zh": "无"},
    "tier.skipped": {"en": "{reason}", "zh": "本层级未运行。原因：{reason}"},
    "tier.skipped_en": {"en": "{reason}", "zh": "本层级未运行。原因（英文原文）：{reason}"},
    "highway.no_expressways": {"en": "highway tier skipped: no expressway data — give an OSM extract (--osm-file "
                                     "guizhou.osm.pbf), an expressway line layer (--expressways lines.gpkg) or run "
                                     "online to fetch OSM",
                               "zh": "未运行高速公路快充层级：没有高速公路数据——请提供 OSM 数据（--osm-file guizhou.osm.pbf）、"
                                     "高速公路线图层（--expressways lines.gpkg），或联网获取 OSM 数据（--online）"},
    "hydrogen.no_corridors": {"en": "hydrogen tier skipped: it plans on the expressway corridors, and there are none "
                                    "(give --osm-file, --expressways or --online)",
                              "zh": "未运行加氢层级：加氢站沿高速公路走廊规划，而本次没有走廊数据（请提供 --osm-file、"
                                    "--expressways 或使用 --online）"},
    "swap.skipped_floor": {"en": "no fleet fills a swap station to the utilisation floor of {floor:.0%} "
                                 "(swap.min_utilisation) — fleets here charge at depots or public chargers; give "
                                 "--fleets FILE with depots, or lower the floor",
                           "zh": "没有车队能使换电站达到 {floor:.0%} 的利用率下限（swap.min_utilisation）——本地车队在场站"
                                 "或公共充电站充电；请用 --fleets 提供含场站的车队文件，或降低该下限"},
    # ------------------------------------------------------------------ site rules (--candidates, --exclude)
    "rules.title": {"en": "Site rules of the candidate-sites file: {tier:tiers}", "zh": "候选站点文件的站点规则：{tier:tiers}"},
    "rules.required": {"en": "required by the candidate-sites file", "zh": "候选站点文件规定必选"},
    "rules.required_missed": {"en": "required, but no {tier} site lies within {m:num} m (the tier could not place it)",
                              "zh": "规定必选，但 {m:num} 米内没有{tier:tiers}站点（本层级无法布设）"},
    "rules.forbidden": {"en": "forbidden by the candidate-sites file", "zh": "候选站点文件规定禁止"},
    "rules.zone": {"en": "inside exclusion zone {zone}", "zh": "位于禁建区 {zone} 内"},
    # ------------------------------------------------------------------ reality check (public tier)
    "fact.source": {"en": "{fact:source}", "zh": "{fact:source}"},
    "reality.sources": {"en": "{items:list}", "zh": "{items:list}"},
    "reality.none": {"en": "–", "zh": "–"},
    "reality.nevs": {"en": "NEVs in the region, {year}", "zh": "区域新能源汽车保有量（{year} 年）"},
    "reality.nevs_ref": {"en": "Guizhou path: {stock:int} in {year}; target {target:int} by 2026; {s22:int} at the end "
                               "of 2022",
                         "zh": "贵州路径：{year} 年 {stock:int} 辆；目标 2026 年 {target:int} 辆；2022 年底 {s22:int} 辆"},
    "reality.evs_per_plug": {"en": "EVs per public plug (existing + new)",
                             "zh": "每个公共充电桩服务的电动汽车（现有 + 新建）"},
    "reality.evs_per_plug_ref": {"en": "China {a:.1f} (end 2025), {b:.1f} (end 2024); plausible plan range 5-30",
                                 "zh": "全国 {a:.1f}（2025 年底）、{b:.1f}（2024 年底）；规划合理范围 5–30"},
    "reality.plugs_per_1000": {"en": "public plugs per 1,000 EVs", "zh": "每千辆电动汽车的公共充电桩"},
    "reality.plugs_per_1000_ref": {"en": "China {v:.0f} (end 2025)", "zh": "全国 {v:.0f}（2025 年底）"},
    "reality.kw_per_plug": {"en": "average kW per plug", "zh": "单桩平均功率（kW）"},
    "reality.kw_per_plug_ref": {"en": "China {v:.1f} kW (end 2025)", "zh": "全国 {v:.1f} kW（2025 年底）"},
    "reality.evs_per_station": {"en": "EVs per public station", "zh": "每座公共充电站服务的电动汽车"},
    "reality.evs_per_station_ref": {"en": "national norm ≤ {norm:int}; this scenario ≤ {own:int} per county",
                                    "zh": "国家要求 ≤ {norm:int}；本情景每县 ≤ {own:int}"},
    "reality.own_charger": {"en": "townships with a charger of their own", "zh": "有自有充电站的乡镇"},
    "reality.own_charger_value": {"en": "{own:int} of {n:int}", "zh": "{own:int} / {n:int}"},
    "reality.no_townships": {"en": "– (no township seats given)", "zh": "–（未提供乡镇驻地）"},
    "reality.own_charger_ref": {"en": "Guizhou: all {n:int} townships since 2023-09",
                                "zh": "贵州：2023 年 9 月起全部 {n:int} 个乡镇"},
    "reality.stations_per_township": {"en": "public stations per township", "zh": "每个乡镇的公共充电站"},
    "reality.stations_kept_new": {"en": "stations: existing kept / new", "zh": "充电站：保留现有 / 新建"},
    "reality.plugs_kept_added": {"en": "plugs: existing kept / added", "zh": "充电桩：保留现有 / 新增"},
    "reality.existing_file": {"en": "--existing FILE", "zh": "现状充电站文件（--existing）"},
    # ------------------------------------------------------------------ notes and assumptions (Plan.notices)
    "notes.tier": {"en": "{tier}: {note}", "zh": "{tier:tiers}：{note}"},
    "notes.joint": {"en": "joint: {note}", "zh": "联合规划：{note}"},
    "notes.joined": {"en": "{items:list}", "zh": "{items:list}"},
    "notes.osm_townships": {"en": "township seats: {n} from OSM place=town/township (and 乡/镇-named villages); pass "
                                  "--townships FILE for the official list",
                            "zh": "乡镇驻地：{n} 个取自 OSM 地名点（place=town/township 及名称带乡、镇的村庄）；"
                                  "请用 --townships 提供官方乡镇名录"},
    "notes.osm_no_townships": {"en": "no township places in the OSM data: township demand is estimated (labelled)",
                               "zh": "OSM 数据中没有乡镇地名点：乡镇需求点为估算值（已标注）"},
    "notes.network_unused": {"en": "road network built, but distance.mode is \"screening\": demand–site distances are "
                                   "straight line × circuity (set distance.mode=\"network\" for road distances)",
                             "zh": "已构建路网，但 distance.mode 为 \"screening\"：需求点至站址距离按直线距离×绕行系数计算"
                                   "（设 distance.mode=\"network\" 可改用路网距离）"},
    "notes.rows_outside": {"en": "{flag} {path}: {n} of {total} row(s) lie outside {region} and are not used: {ids}",
                           "zh": "{flag} {path}：{total} 行中有 {n} 行位于{region}范围以外，未使用：{ids}"},
    "notes.pass_strict": {"en": "{note} (pass --strict to make this an error)",
                          "zh": "{note}（使用 --strict 可将此情况视为错误）"},
    "inputs.header_mapping": {"en": "{file}: {pairs:clist}", "zh": "{file} 的表头对应：{pairs:clist}"},
    "inputs.datum_wgs84": {"en": "{file}: {n} positions coincide with built-in (WGS-84) county seats before the GCJ-02 "
                                 "conversion and land ~500 m off them after it: the file looks like WGS-84 already — "
                                 "check --crs gcj02",
                           "zh": "{file}：有 {n} 个位置在 GCJ-02 转换前与内置（WGS-84）县城驻地重合，转换后却偏离约 500 米："
                                 "该文件似乎已是 WGS-84 坐标，请检查 --crs gcj02"},
    "inputs.datum_gcj02": {"en": "{file}: {n} positions sit ~500 m off built-in county seats exactly as a GCJ-02 shift "
                                 "would put them: the file looks like GCJ-02 (Amap/DataV/Tencent) — pass --crs gcj02",
                           "zh": "{file}：有 {n} 个位置与内置县城驻地恰好相差约 500 米，与 GCJ-02 偏移一致：该文件似乎是 "
                                 "GCJ-02 坐标（高德/DataV/腾讯），请使用 --crs gcj02"},
    "demand.townships_given": {"en": "{n} township seats from {source}", "zh": "乡镇驻地 {n} 个，来源：{source}"},
    "demand.townships_estimated": {
        "en": "no township seats given: {n} township demand points ESTIMATED on a {km:g} km hexagonal lattice outside "
              "the built-up areas (source = estimated); pass --townships FILE for real seats",
        "zh": "未提供乡镇驻地：在建成区以外按 {km:g} 公里六边形网格**估算**了 {n} 个乡镇需求点（source 列标为 estimated）；"
              "请用 --townships 提供实际乡镇驻地"},
    "demand.builtup": {"en": "built-up areas: {n_osm} of {n} city/county seats from OSM landuse ({names}), the rest "
                             "estimated as discs of census population ÷ {density:,.0f} residents per km²",
                       "zh": "建成区：{n} 个城区/县城中 {n_osm} 个取自 OSM 土地利用数据（{names}），其余按普查人口 ÷ "
                             "每平方公里 {density:,.0f} 人估算为圆形区域"},
    "public.soft_townships": {"en": "{n} estimated township points are soft targets (covered where the plan reaches "
                                    "them, never a reason for infeasibility); pass --townships FILE for real seats",
                              "zh": "{n} 个估算乡镇点为软目标（规划能覆盖时计入，不会导致无可行解）；"
                                    "请用 --townships 提供实际乡镇驻地"},
    "public.plugs_unknown": {"en": "{n} existing station(s) without a plug count are taken to have {plugs} plugs "
                                   "(public.existing_plugs_unknown, an assumption)",
                             "zh": "{n} 座现有充电站未注明充电桩数，按每站 {plugs} 个计（public.existing_plugs_unknown，假设）"},
    "public.townships_maximised": {"en": "the budget / station limit cannot cover every township; townships were "
                                         "maximised with the other demand, not forced",
                                   "zh": "预算或站点数上限不足以覆盖全部乡镇：乡镇与其他需求一并按最大覆盖优化，未强制全覆盖"},
    "public.sizing": {"en": "station sizing (the model's plugs and energy assignment, checked against the chosen "
                            "sites): every EV within reach of an open station charges at one; plugs >= energy / (plug "
                            "kW × hours × utilisation) = energy / ({kw:g} × {hours:g} × {util:g} = {kap:g} kWh/day), "
                            "at least {min_plugs}; energy = EVs × {kwh:g} kWh × {share:g}",
                      "zh": "充电站规模（按模型的充电桩数与电量分配，并对选定站址校核）：服务半径内有开放站点的电动汽车"
                            "均在站点充电；充电桩数 ≥ 日充电量 ÷（单桩功率 × 每日小时数 × 利用率）= 日充电量 ÷（{kw:g} × "
                            "{hours:g} × {util:g} = {kap:g} 千瓦时/日），每站至少 {min_plugs} 个；日充电量 = 电动汽车数 × "
                            "{kwh:g} 千瓦时 × 公共充电比例 {share:g}"},
    "public.distances_screening": {"en": "distances: screening (circuity {c})",
                                   "zh": "距离计算：直线距离×绕行系数（筛选），绕行系数 {c}"},
    "public.distances_graph": {"en": "distances: {mode} (road graph)", "zh": "距离计算：{mode}（道路网络图）"},
    "sources.trunk_roads": {"en": "road skeleton: OSM trunk roads via scgraph_data (ODbL)",
                            "zh": "道路骨架：OSM 干线道路（取自 scgraph_data，ODbL 许可）"},
    "highway.skeleton": {"en": "{label}: {km:,.0f} km of expressways and national/provincial trunk roads (no road class "
                               "in the data), {gateways} province-border gateway(s) with {vehicles:,.0f} vehicles/day of "
                               "through traffic each (assumption)",
                         "zh": "{label}：高速公路及国道、省道干线共 {km:,.0f} 公里（数据中无道路等级）；{gateways} 个省界"
                               "出入口，每个按过境交通 {vehicles:,.0f} 辆/日计（假设）"},
    "highway.all_service_areas": {"en": "every service area gets chargers (2022 national action plan): {n} "
                                        "service-area site(s) fixed open",
                                  "zh": "每个服务区均配建充电设施（2022 年国家行动方案）：{n} 个服务区站点固定入选"},
    "highway.service_areas_chosen": {"en": "highway.stations/budget_cny set: service areas are chosen by the model "
                                           "(highway.all_service_areas applies without them)",
                                     "zh": "已设定 highway.stations 或 highway.budget_cny：服务区由模型选择"
                                           "（未设定时才适用 highway.all_service_areas）"},
    "highway.gap_unmet": {"en": "{n} stretch(es) longer than {km:g} km have no candidate site (see unmet_windows)",
                          "zh": "{n} 段长于 {km:g} 公里的路段没有候选站址（见 unmet_windows）"},
    "highway.never_served": {"en": "{n} OD pair(s) can never be served with an effective range of {km:g} km: {ids}",
                             "zh": "{n} 个起讫点对在 {km:g} 公里有效续航下无论如何都无法满足：{ids}"},
    "highway.stretch_shortest": {"en": "longest stretches measured along shortest routes between sites only ({error})",
                                 "zh": "最长无站路段仅沿站点间最短路径量测（{error}）"},
    "highway.rejected": {"en": "{n} service area(s)/site(s) not attached to any corridor: {items}{more} (tolerance "
                               "{name} = {m:g} m)",
                         "zh": "{n} 个服务区或站点未接入任何走廊：{items}{more}（容差 {name} = {m:g} 米）"},
    "highway.rejected_site": {"en": "{name} ({m:.0f} m, {reason})", "zh": "{name}（{m:.0f} 米，{reason}）"},
    "highway.capped_plugs": {"en": "planner's site(s) sized to the plugs of the candidate-sites file, fewer than the "
                                   "wait target (highway.wait_target_min = {wait:g} min) asks for: {items}",
                             "zh": "规划人员指定站点按候选站点文件中的充电桩数配置，少于等待时间目标"
                                   "（highway.wait_target_min = {wait:g} 分钟）所需：{items}"},
    "highway.no_station": {"en": "highway: no station planned: {reason}", "zh": "高速快充：未规划站点：{reason}"},
    "hydrogen.no_sources": {"en": "no hydrogen sources given: the supply rule was not applied",
                            "zh": "未提供氢源：未执行氢源距离约束"},
    "hydrogen.supply_radius": {"en": "supply rule: sites within {km:g} km (straight line × {c:g}) of a hydrogen source; "
                                     "{n} candidate(s) excluded",
                               "zh": "氢源约束：站址须在氢源 {km:g} 公里内（直线距离 × {c:g}）；排除候选站点 {n} 个"},
    "hydrogen.supply_delivery": {"en": "supply rule: delivery cost {cny:,.0f} CNY per km of supply distance added to "
                                       "each site's cost",
                                 "zh": "氢源约束：按距氢源每公里 {cny:,.0f} 元的运氢费用计入各站址投资"},
    "hydrogen.none_allowed": {"en": "no hydrogen candidate passes the supply rule: no station can be opened",
                              "zh": "没有加氢候选站点满足氢源约束：无法新建加氢站"},
    "hydrogen.never_refuelled": {"en": "{n} truck path(s) cannot be refuelled by any allowed site at {km:g} km "
                                       "effective range: {ids}",
                                 "zh": "{n} 条货车路径在 {km:g} 公里有效续航下无任何可用站址能满足加氢：{ids}"},
    "hydrogen.phase_target": {"en": "hydrogen phase {year}: the target of {target:.1%} of the flow is not reachable by "
                                    "the refuelling rules; planned for {planned:.1%} ({f:.0%} of it)",
                              "zh": "加氢站分期（{year}）：按加氢规则无法达到服务 {target:.1%} 车流的目标；按 {planned:.1%} "
                                    "规划（目标的 {f:.0%}）"},
    "hydrogen.freight": {"en": "truck flows from {file} (heavy trucks/day × hydrogen_share {h2:g})",
                         "zh": "货车流量取自 {file}（重卡日流量 × 氢能比例 hydrogen_share {h2:g}）"},
    "swap.fleets_estimated": {"en": "swap fleets estimated from 2020 urban population × per-type defaults (vehicles per "
                                    "10k urban residents × electrified share × swap share); give a fleet file for real "
                                    "depots",
                              "zh": "换电车队按 2020 年城镇人口 × 分车型默认值估算（每万城镇人口车辆数 × 电动化比例 × "
                                    "换电比例）；有实际场站时请提供车队文件"},
    "swap.fleets_from": {"en": "swap fleets from {file}: {n} fleets", "zh": "换电车队取自 {file}：共 {n} 个车队"},
    "swap.user_sites": {"en": "{n} site(s) of the candidate-sites file added to the candidates",
                        "zh": "候选站点文件中的 {n} 个站点已加入换电候选站点"},
    "swap.user_sites_plugs": {"en": "{n} site(s) of the candidate-sites file added to the candidates; their plugs "
                                    "column is not a swap notion and is not used",
                              "zh": "候选站点文件中的 {n} 个站点已加入换电候选站点；其充电桩数（plugs）列不适用于换电站，未使用"},
    "swap.access_screening": {"en": "swap access distances: straight line × {c:g} (screening)",
                              "zh": "换电接入距离：直线距离 × {c:g}（筛选）"},
    "swap.below_floor": {"en": "swap demand-driven: {n} fleet point(s) with {swaps:,.0f} swaps/day stay with "
                               "depot/public charging — no candidate site reaches {floor:.0%} of a station's capacity "
                               "from them (swap.min_utilisation); by fleet: {by:clist}",
                         "zh": "换电按需求布局：{n} 个车队点（日换电 {swaps:,.0f} 次）仍在场站或公共充电站充电——"
                               "没有候选站点能从这些车队获得达到换电站能力 {floor:.0%} 的需求（swap.min_utilisation）；"
                               "分车队：{by:clist}"},
    "swap.fleet_rate": {"en": "{fleet} {rate:,.1f}/day", "zh": "{fleet:fleet} {rate:,.1f} 次/日"},
    "swap.packs": {"en": "battery packs per site = stations × battery_stock + extra packs bought at pack_cost_cny, "
                         "where the swaps need ceil(swaps × {reserve:g} / battery_turns_per_day) packs",
                   "zh": "每个站址的电池包 = 换电站数 × 单站标配电池包（battery_stock）+ 按单价 pack_cost_cny 追加购买的"
                         "电池包；所需电池包数 = ceil(日换电次数 × {reserve:g} ÷ 电池日周转次数 battery_turns_per_day)"},
    "swap.no_fleets_file": {"en": "no --fleets FILE: fleets are the documented per-capita defaults of [swap]",
                            "zh": "未提供 --fleets 车队文件：车队采用 [swap] 中注明来源的人均默认值"},
    "rules.forced": {"en": "{n} required site(s) forced open: {ids} (their own site cost {cost:,.0f} CNY, before "
                           "plugs/stations; the plan's cost includes them)",
                     "zh": "{n} 个必选站点强制入选：{ids}（站址自身投资 {cost:,.0f} 元，不含充电桩/设备；已计入规划投资）"},
    "rules.not_placed": {"en": "required site(s) not placed in this tier: {ids} (no {tier} candidate within {m:g} m)",
                         "zh": "必选站点未能在本层级布设：{ids}（{m:g} 米内没有{tier:tiers}候选站点）"},
    "rules.forbidden_n": {"en": "{n} site(s) forbidden ({zones} inside exclusion zones): {ids}",
                          "zh": "{n} 个站点被禁止（其中 {zones} 个位于禁建区内）：{ids}"},
    "joint.left_out": {"en": "{tier} left out of the joint plan: {reason}",
                       "zh": "{tier:tiers}未纳入联合规划：{reason}"},
    "joint.target_ignored": {"en": "joint.targets.{tier} ignored: the {tier} tier is not in the joint plan",
                             "zh": "忽略 joint.targets.{tier}：该层级未纳入联合规划"},
    "joint.marginal_skipped": {"en": "{n} of {total} marginal-budget re-solve(s) skipped: less than {min_s:g} s of "
                                     "joint.time_limit_s ({limit:g} s) was left after the main solve; raise "
                                     "joint.time_limit_s for the full table",
                               "zh": "{total} 次追加预算重算中有 {n} 次未运行：主求解后 joint.time_limit_s（{limit:g} 秒）"
                                     "剩余不足 {min_s:g} 秒；如需完整表格请增大 joint.time_limit_s"},
    "joint.no_marginal": {"en": "no budget given, so no marginal-budget table (min_cost without budgets)",
                          "zh": "未设定预算，因此没有追加预算表（min_cost 无预算）"},
    "joint.shared_sites": {"en": "{n} physical site(s) can host several tiers (within {m:g} m); shared land + grid cost "
                                 "up to {cny:,.0f} CNY paid once per site",
                           "zh": "{n} 个实际站址可合建多个层级的设施（相距 {m:g} 米以内）；共用的土地和电网接入费用"
                                 "（每站最多 {cny:,.0f} 元）每个站址只计一次"},
    # ------------------------------------------------------------------ compare
    "compare.title": {"en": "Plan comparison — {region}: A {a} → B {b}",
                      "zh": "规划方案对比 — {region}：方案A {a} → 方案B {b}"},
    "compare.map_title": {"en": "{region}: sites added, removed, resized", "zh": "{region} 站点变化（新增/移除/扩容/缩减）"},
    "compare.files": {"en": "A (reference): `{a}` (scenario {sa}); B (what-if): `{b}` (scenario {sb}).",
                      "zh": "方案A（基准）：`{a}`（情景 {sa}）；方案B（比选）：`{b}`（情景 {sb}）。"},
    "compare.counts": {"en": "Sites: {added:int} added, {removed:int} removed, {resized:int} resized, "
                             "{unchanged:int} unchanged.",
                       "zh": "站点：新增 {added:int}，移除 {removed:int}，扩容/缩减 {resized:int}，不变 {unchanged:int}。"},
    "compare.cost": {"en": "Cost: A {a:cost}, B {b:cost} (change {d:cost}).",
                     "zh": "投资：方案A {a:cost}，方案B {b:cost}（变化 {d:cost}）。"},
    "compare.scenario_diff": {"en": "Scenario keys that differ: {diff}.", "zh": "情景参数差异：{diff}。"},
    "compare.regions": {"en": "plans cover different regions: A {a} is {a_name} ({a_code}), B {b} is {b_name} ({b_code})",
                        "zh": "两个方案的规划范围不同：方案A {a} 为{a_name}（{a_code}），方案B {b} 为{b_name}（{b_code}）"},
    "compare.regions_note": {"en": "{note}; sites outside the common area show as added/removed",
                             "zh": "{note}；共同范围以外的站点显示为新增或移除"},
    "compare.township_source_differs": {"en": "townships differ: A {a}, B {b}; part of the change comes from this input, "
                                              "not the scenario",
                                        "zh": "两个方案的乡镇驻地不同：方案A {a}，方案B {b}；部分变化来自该输入，而非情景参数"},
    "compare.distance_mode_differs": {"en": "distance mode differ: A {a}, B {b}; part of the change comes from this "
                                            "input, not the scenario",
                                      "zh": "两个方案的距离计算方式不同：方案A {a}，方案B {b}；部分变化来自该输入，而非情景参数"},
    "compare.input_differs": {"en": "input {name} differs between A and B (other file contents)",
                              "zh": "输入 {name} 在方案A与方案B中不同（文件内容不同）"},
    "compare.scenario_notes": {"en": "scenario differences: {diff}", "zh": "情景参数差异：{diff}"},
    "compare.no_diff": {"en": "The two scenarios have the same keys and values.", "zh": "两个方案的情景参数相同。"},
}

#: Solver statuses (:class:`gzcharge.locate._common.Status` values) -> (English, Chinese).
STATUS_WORDS: dict[str, tuple[str, str]] = {
    "optimal": ("optimal", "最优"),
    "time_limit_feasible": ("stopped at the time limit with a feasible plan", "达到时间上限，得到可行方案"),
    "feasible": ("feasible", "可行"),
    "infeasible": ("infeasible", "无可行解"),
    "not_run": ("not run", "未运行"),
    "error": ("error", "出错"),
    "skipped": ("skipped", "未运行"),
}

#: Section titles (the English text the code writes) -> other languages.
TITLES: dict[str, dict[str, str]] = {
    "Overview": {"zh": "概况"},
    "Hard rules missed": {"zh": "未满足的硬性规则"},
    "Rules, assumptions and sources": {"zh": "规划规则、假设与来源"},
    "Scenario values and sources": {"zh": "情景参数取值与来源"},
    "Notes and assumptions": {"zh": "说明与假设"},
    "Timings (s)": {"zh": "计算用时（秒）"},
    "Joint plan with phasing": {"zh": "分期联合规划"},
    "Cost by tier and year": {"zh": "分层级分年度投资"},
    "Service by tier and year": {"zh": "分层级分年度服务水平"},
    "What a marginal budget buys": {"zh": "追加预算的边际效果"},
    "Public charging (市、县、乡三级): rules": {"zh": "公共充电（市、县、乡三级）：规划规则"},
    "Public charging: result by tier": {"zh": "公共充电：分层级结果"},
    "Reality check: the plan against published figures": {"zh": "合理性检验：规划与公开数据对照"},
    "Public charging: county compliance": {"zh": "公共充电：分县达标情况"},
    "Unmet targets": {"zh": "未达标目标"},
    "Townships": {"zh": "乡镇覆盖"},
    "Townships not covered": {"zh": "未覆盖乡镇"},
    "Highway fast charging": {"zh": "高速公路快充"},
    "Highway corridors": {"zh": "高速公路走廊"},
    "Highway by prefecture": {"zh": "高速公路分市州"},
    "Hydrogen refuelling (加氢) for heavy trucks": {"zh": "重卡加氢站"},
    "Hydrogen phases": {"zh": "加氢站分期建设"},
    "Hydrogen candidates excluded by the supply rule": {"zh": "因氢源约束排除的加氢候选站"},
    "Battery swap (换电) for fleets": {"zh": "车队换电站"},
    "Battery swap by fleet": {"zh": "分车队换电"},
    "Summary": {"zh": "汇总"},
    "Site changes": {"zh": "站点变化"},
    "Coverage change by county": {"zh": "分县覆盖率变化"},
    "Township changes": {"zh": "乡镇覆盖变化"},
    "Notes": {"zh": "说明"},
    "Plan": {"zh": "规划"},
}

#: Column name -> (English header, Chinese header).
COLUMNS: dict[str, tuple[str, str]] = {
    "adcode": ("adcode", "县代码"),
    "county_adcode": ("county adcode", "所属县代码"),
    "name": ("name", "名称"),
    "county": ("county", "县（区）"),
    "evs": ("EVs", "电动汽车（辆）"),
    "stations": ("stations", "充电站（座）"),
    "stations_new": ("new stations", "新建站（座）"),
    "stations_existing": ("existing stations", "现有站（座）"),
    "plugs_added": ("plugs added", "新增充电桩（个）"),
    "plugs_existing": ("existing plugs", "现有充电桩（个）"),
    "evs_per_plug": ("EVs per plug", "车桩比（辆/桩）"),
    "indicator": ("indicator", "指标"),
    "plan": ("plan", "本规划"),
    "reference": ("published figure", "公开数据"),
    "source": ("source", "来源"),
    "plugs": ("plugs", "充电桩（个）"),
    "kw": ("kW", "功率（千瓦）"),
    "coverage_pct": ("coverage %", "覆盖率"),
    "city_coverage_pct": ("city core %", "城市核心区覆盖率"),
    "county_coverage_pct": ("county seat %", "县城覆盖率"),
    "township_coverage_pct": ("township %", "乡镇覆盖率"),
    "covered_pct": ("EVs covered %", "电动汽车覆盖率"),
    "points_covered_pct": ("points covered %", "需求点覆盖率"),
    "townships_covered": ("townships covered", "已覆盖乡镇（个）"),
    "townships_total": ("townships", "乡镇（个）"),
    "plugs_per_1000_evs": ("plugs / 1,000 EVs", "每千辆车充电桩"),
    "cost_cny": ("cost", "投资"),
    "unmet_targets": ("unmet targets", "未达标目标"),
    "tier": ("tier", "层级"),
    "demand_points": ("demand points", "需求点（个）"),
    "year": ("year", "年份"),
    "share_of_total": ("share of total", "占总投资比例"),
    "served": ("served", "已服务"),
    "total": ("total", "总需求"),
    "share": ("share served", "服务比例"),
    "fleet_type": ("fleet", "车队类型"),
    "vehicles": ("vehicles", "车辆（辆）"),
    "swaps_day": ("swaps/day", "日换电需求（次）"),
    "swaps_served": ("swaps/day served", "日换电服务（次）"),
    "served_share": ("share served", "服务比例"),
    "station_id": ("nearest station", "最近站点"),
    "distance_m": ("distance (m)", "距离（米）"),
    "unmet_reason": ("reason", "未覆盖原因"),
    "stage": ("stage", "计算步骤"),
    "seconds": ("seconds", "用时（秒）"),
    "key": ("scenario key", "情景参数"),
    "value": ("value", "取值"),
    "kind_of_value": ("kind", "性质"),
    "explanation": ("explanation and source", "含义与来源（英文原文）"),
    "section": ("section", "类别"),
    "item": ("item", "项目"),
    "a": ("A", "方案A"),
    "b": ("B", "方案B"),
    "delta": ("change", "变化"),
    "layer": ("layer", "图层"),
    "change": ("change", "变化"),
    "change_zh": ("change", "变化"),
    "detail": ("detail", "变化明细"),
    "site_id": ("site", "站点编号"),
    "capacity_unit": ("size measure", "规模指标"),
    "capacity": ("size", "规模"),
    "size_changes": ("size changes", "规模变化"),
    "phase": ("phase", "期次"),
    "phase_name": ("phase", "期次"),
    "phase_year": ("build year", "建设年份"),
    "demand_kg_day": ("demand (kg/day)", "需求（公斤/日）"),
    "capacity_kg_day": ("capacity (kg/day)", "能力（公斤/日）"),
    "units": ("units", "设备（套）"),
    "supply_source": ("hydrogen source", "氢源"),
    "reason": ("reason", "原因"),
    "rule": ("rule", "规则"),
    "matched": ("tier site", "对应站点"),
    "in_plan": ("in the plan", "是否入选"),
    "corridor": ("corridor", "走廊"),
    "flow": ("flow", "流量"),
    "length_km": ("length (km)", "长度（公里）"),
    "prefecture": ("prefecture", "市州"),
    "station_type": ("station type", "站型"),
    "n_stations": ("stations", "站数（座）"),
    "batteries": ("battery packs", "电池包（个）"),
    "status": ("status", "状态"),
    "mode": ("mode", "模型"),
    "added": ("added", "新增"),
    "removed": ("removed", "移除"),
    "resized": ("resized", "扩容/缩减"),
    "enlarged": ("enlarged", "扩容"),
    "reduced": ("reduced", "缩减"),
    "unchanged": ("unchanged", "不变"),
    "capacity_swaps_day": ("swaps/day capacity", "日换电能力（次）"),
    # highway corridors and prefectures
    "component": ("corridor network", "路网分区"),
    "refs": ("roads", "道路编号"),
    "new": ("new", "新建（座）"),
    "existing": ("existing", "现有（座）"),
    "longest_stretch_km": ("longest stretch without a station (km)", "最长无站路段（公里）"),
    "gap_ok": ("gap rule met", "满足间距要求"),
    "corridor_km": ("corridor (km)", "高速里程（公里）"),
    # hydrogen phases and exclusions
    "new_stations": ("new stations", "新建站（座）"),
    "refuelled_flow": ("trucks/day refuelled", "日加氢服务车次"),
    "refuelled_share": ("share refuelled", "加氢服务比例"),
    "gap": ("solver gap", "求解间隙"),
    "supply_km": ("distance to the source (km)", "距氢源（公里）"),
    # joint marginal budget
    "extra_budget_cny": ("extra budget", "追加预算"),
    "objective": ("objective", "目标值"),
    "delta_objective": ("objective change", "目标值变化"),
    "delta_per_million_cny": ("change per million CNY", "每百万元变化"),
    "method": ("method", "方法"),
}

#: Layer names -> (English, Chinese), for map legends.
LAYER_NAMES: dict[str, tuple[str, str]] = {
    "counties": ("counties", "县（区）"), "boundary": ("boundary", "规划范围"),
    "townships": ("townships", "乡镇"), "demand_points": ("demand points", "需求点"),
    "public_stations": ("public charging", "公共充电站"), "highway_stations": ("highway fast charging", "高速快充站"),
    "expressway_segments": ("expressways", "高速公路"), "swap_stations": ("battery swap", "换电站"),
    "hydrogen_stations": ("hydrogen", "加氢站"), "site_changes": ("sites", "站点"),
    "county_changes": ("counties", "县（区）"), "township_changes": ("townships", "乡镇"),
}

#: Cell values of category columns -> (English, Chinese).
VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "rule": {"required": ("required", "必选"), "forbidden": ("forbidden", "禁止")},
    "tier": {"city": ("city core", "城市核心区"), "county": ("county seat", "县城"), "township": ("township", "乡镇"),
             "total": ("total", "合计"), "public": ("public charging", "公共充电"),
             "highway": ("highway fast charging", "高速快充"), "swap": ("battery swap", "换电"),
             "hydrogen": ("hydrogen", "加氢")},
    "fleet_type": {"bus": ("bus", "公交"), "taxi": ("taxi", "出租车"), "logistics": ("logistics", "物流车"),
                   "sanitation": ("sanitation", "环卫车"), "mine_truck": ("mine truck", "矿用卡车"),
                   "heavy_truck": ("heavy truck", "重卡"), "total": ("total", "合计")},
    "station_type": {"car": ("car", "乘用车"), "bus": ("bus", "公交"), "heavy_truck": ("heavy truck", "重卡")},
    "status": {"new": ("new", "新建"), "existing": ("existing", "现有")},
    "change": {"added": ("added", "新增"), "removed": ("removed", "移除"), "resized": ("resized", "扩容/缩减"),
               "unchanged": ("unchanged", "不变")},
    "detail": {"added": ("added", "新增"), "removed": ("removed", "移除"), "enlarged": ("enlarged", "扩容"),
               "reduced": ("reduced", "缩减"), "unchanged": ("unchanged", "不变")},
    "section": {"sites": ("sites", "站点"), "cost": ("cost", "投资"), "coverage": ("coverage", "覆盖"),
                "counties": ("counties", "县（区）")},
    "year": {"total": ("total", "合计")},
    "capacity_unit": {"plugs": ("plugs", "充电桩（个）"), "capacity_swaps_day": ("swaps/day", "日换电能力（次）"),
                      "capacity_kg_day": ("kg/day", "加氢能力（公斤/日）")},
    "layer": {"public_stations": ("public charging", "公共充电站"), "highway_stations": ("highway", "高速快充站"),
              "swap_stations": ("battery swap", "换电站"), "hydrogen_stations": ("hydrogen", "加氢站")},
}


# =========================================================================== tables
def _column_kind(name: str) -> str:
    base = _base_column(name)
    if "cny" in base:
        return "cost"
    if base.endswith("_pct") or base.endswith("_%"):
        return "pct"
    if base in ("share", "share_of_total", "gap") or base.endswith("_share"):
        return "share"
    if base in ("year", "phase_year", "phase") or base.endswith("_year") or "adcode" in base or base.endswith("_id") \
            or base in ("code", "site_id"):
        return "code"
    if base in ("evs", "vehicles", "stations", "stations_new", "plugs", "demand_points", "townships_covered",
                "townships_total", "swaps_day", "swaps_served", "served", "total", "n_stations", "units", "kw",
                "stations_existing", "plugs_added", "plugs_existing",
                "batteries", "distance_m", "demand_kg_day", "capacity_kg_day", "new", "existing", "new_stations",
                "refuelled_flow") or base.endswith("_m"):
        return "count"
    return "number"


def _base_column(name: str) -> str:
    base = name[2:] if name.startswith("d_") else name
    for suffix in ("_a", "_b"):
        if base.endswith(suffix) and len(base) > 2:
            return base[: -len(suffix)]
    return base


def column_label(name: str, lang: str, *, unit: str | None = None) -> str:
    """Header of column ``name`` in ``lang`` (``_a``/``_b``/``d_`` variants derived)."""
    i = 0 if lang == "en" else 1
    base = _base_column(name)
    label = COLUMNS[base][i] if base in COLUMNS else (COLUMNS[name][i] if name in COLUMNS else name)
    if name in COLUMNS:
        label = COLUMNS[name][i]
    elif base != name:
        if name.startswith("d_"):
            label = f"Δ {label}" if lang == "en" else f"{label}变化"
        label += (" A" if lang == "en" else "（方案A）") if name.endswith("_a") else (
            (" B" if lang == "en" else "（方案B）") if name.endswith("_b") else "")
    if unit:
        label += f" ({unit})" if lang == "en" else f"（{unit}）"
    return label


def _cost_unit(values: Sequence[float], lang: str) -> tuple[float, str, str]:
    """Divisor, unit label and number format of a cost column (one unit per column)."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    if lang == "zh":
        return (1e8, "亿元", "{:,.2f}") if top >= 1e9 else (1e4, "万元", "{:,.1f}")
    return 1e6, "million CNY", "{:,.2f}"


def _cell_value(col: str, v: Any, lang: str) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return MESSAGES["yes" if v else "no"][lang]
    if isinstance(v, Msg):  # a cell written as a message (e.g. the reality check's texts)
        return v.render(lang)
    key = _base_column(col)
    if isinstance(v, str) and key in VALUES and v in VALUES[key]:
        return VALUES[key][v][0 if lang == "en" else 1]
    if isinstance(v, str) and key == "status" and v in STATUS_WORDS:
        return STATUS_WORDS[v][0 if lang == "en" else 1]
    return v


def _prepared(frame: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
    """Values converted (cost units, category words); headers; number format per column."""
    import pandas as pd

    if frame.index.name is not None:
        frame = frame.reset_index()
    out = {}
    headers: dict[str, str] = {}
    formats: dict[str, str] = {}
    for col in frame.columns:
        name = str(col)
        s = frame[col]
        kind = _column_kind(name) if s.dtype.kind in "iuf" or s.dtype.name in ("Int64", "Float64") else "text"
        unit = None
        if kind == "text":
            values = [_cell_value(name, v, lang) for v in s.tolist()]
            if _column_kind(name) == "cost":  # e.g. a "total" row label mixed into a numeric column
                kind = "text"
        else:
            values = [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
                      for v in s.tolist()]
            if kind == "cost":
                div, unit, fmt = _cost_unit([float(v) for v in values if v is not None], lang)
                values = [None if v is None else float(v) / div for v in values]
                formats[name] = fmt
            elif kind == "count":
                values = [None if v is None else round(float(v)) for v in values]
                formats[name] = "{:,}"
            elif kind == "code":
                values = [None if v is None else (int(v) if float(v).is_integer() else v) for v in values]
                formats[name] = "{}"
            elif kind == "pct":
                formats[name] = "{:.1f}%"
            elif kind == "share":
                formats[name] = "share"
            else:
                formats[name] = "num"
        out[name] = values
        headers[name] = column_label(name, lang, unit=unit)
    frame_out = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in out.items()}, columns=list(out))
    return frame_out, headers, formats


def display_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The table as text for people: translated headers, category words and number formats.

    Costs take one unit per column (万元, or 亿元 when a value reaches 10 亿; million CNY in
    English), counts are integers with thousands separators, ``*_pct`` one decimal with ``%``,
    shares (0–1) as percentages, years and codes without separators.
    """
    import pandas as pd

    values, headers, formats = _prepared(frame, lang)
    cols = {}
    for name in values.columns:
        fmt = formats.get(name)
        col = []
        for v in values[name].tolist():
            if v is None or (isinstance(v, float) and math.isnan(v)):
                col.append("")
            elif fmt is None or isinstance(v, str):
                col.append(str(v))
            elif fmt == "share":
                col.append(fmt_share(v))
            elif fmt == "num":
                col.append(_fmt_num(v))
            else:
                col.append(fmt.format(v))
        cols[headers[name]] = col
    out = pd.DataFrame(cols)
    out.attrs["numeric"] = [formats.get(n) is not None and formats.get(n) != "{}" for n in values.columns]
    return out


def sheet_table(frame: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The table for a spreadsheet: numbers stay numbers (costs in the column's unit).

    Returns the frame with translated headers and the Excel number format per header.
    """
    import pandas as pd

    values, headers, formats = _prepared(frame, lang)
    excel = {"{:,}": "#,##0", "{:,.1f}": "#,##0.0", "{:,.2f}": "#,##0.00", "{:.1f}%": '0.0"%"', "share": "0.0%",
             "num": "#,##0.##", "{}": "0"}
    out = pd.DataFrame({headers[n]: pd.Series(values[n].tolist(), dtype=object) for n in values.columns})
    return out, {headers[n]: excel[f] for n, f in formats.items() if f in excel}


def missing_translations(sections: Sequence[tuple[Any, Any]], lang: str = "zh") -> list[str]:
    """Section titles and table columns that have no ``lang`` text (for tests and reviews)."""
    import pandas as pd

    missing = []
    for title, content in sections:
        if not isinstance(title, Msg) and str(title) not in TITLES:
            missing.append(f"title {title!r}")
        if isinstance(content, pd.DataFrame):
            frame = content.reset_index() if content.index.name is not None else content
            for col in frame.columns:
                if _base_column(str(col)) not in COLUMNS and str(col) not in COLUMNS:
                    missing.append(f"column {col!r} of {title!r}")
    return missing
