"""Published reference figures a plan is compared with (the report's reality check).

One place for the facts the tool quotes, each with its source. They are not model inputs: the
scenario's defaults cite them where they were calibrated on them (``models/default.toml``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Fact", "FACTS"]


@dataclass(frozen=True)
class Fact:
    """A published figure: value, unit, what it measures and where it comes from (English and Chinese)."""

    key: str
    value: float
    unit: str
    what: str
    source: str
    source_zh: str = ""


FACTS: dict[str, Fact] = {f.key: f for f in (
    Fact("cn_evs_per_public_charger_2025", 43.97e6 / 4.717e6, "NEVs per public charger",
         "China, end of 2025: 43.97 M NEVs / 4.717 M public chargers",
         "NEV stock: Ministry of Public Security via Xinhua, 2026-01; public chargers: National Energy "
         "Administration via 中国能源报, 2026-01-21",
         "保有量：公安部（新华社，2026 年 1 月）；公共充电桩：国家能源局（中国能源报，2026-01-21）"),
    Fact("cn_evs_per_public_charger_2024", 31.40e6 / 3.58e6, "NEVs per public charger",
         "China, end of 2024: 31.40 M NEVs / about 3.58 M public chargers",
         "Ministry of Public Security via Xinhua, 2025-01-17; CAAM via Xinhua, 2025-01-28",
         "公安部（新华社，2025-01-17）；中国汽车工业协会（新华社，2025-01-28）"),
    Fact("cn_public_kw_per_charger_2025", 46.53, "kW per public charger",
         "China, end of 2025: 220 M kW of rated power over 4.717 M public chargers",
         "National Energy Administration via 中国能源报, 2026-01-21", "国家能源局（中国能源报，2026-01-21）"),
    Fact("cn_evs_per_public_station_norm", 2000.0, "EVs per public station (at most)",
         "national norm: at least one public charging station per 2,000 EVs",
         "国办发〔2015〕73号; 电动汽车充电基础设施发展指南(2015-2020年), NDRC/NEA 2015",
         "国办发〔2015〕73号；《电动汽车充电基础设施发展指南（2015—2020年）》，国家发展改革委、国家能源局，2015"),
    Fact("gz_townships_with_chargers_2023", 1145.0, "townships",
         "Guizhou: chargers in all 1,145 townships by September 2023 (乡镇充电桩全覆盖)",
         "中新社, 贵阳, 2024-04-22", "中新社，贵阳，2024-04-22"),
    Fact("gz_nev_target_2026", 700_000.0, "NEVs",
         "Guizhou target: 700,000 NEVs by 2026 (到2026年全省新能源汽车保有量达到70万辆)",
         "贵州省人民政府办公厅 '电动贵州' guidance, reported by 中新社, 2024-04-22",
         "贵州省人民政府办公厅“电动贵州”指导意见（中新社，2024-04-22）"),
    Fact("gz_nev_stock_2022", 165_000.0, "NEVs", "Guizhou NEV stock at the end of 2022",
         "provincial statistics reported by Xinhua, 2023-10",
         "贵州省统计数据（新华社，2023 年 10 月）"),
)}
