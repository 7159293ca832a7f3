"""A hard rule the plan misses is its headline, never a silent "optimal" (issue 10)."""

from __future__ import annotations

from gzcharge.scenario import load_scenario
from tests.test_public_tier import HAND, _synthetic_region


def test_missed_station_count_is_the_headline():
    """The synthetic county has 200 EVs; at 1 station per EV it needs 200 stations. Its candidates within
    reach of its demand are the three seats, the regional grid and the urban grid of the 1.4 km² seat
    disc (14,000 residents / 10,000 per km²), at most ~40 points even at the finest 200 m spacing, so the
    count rule cannot be met: the plan still solves ("optimal" for what can be
    built) but its headline says the rule is missed, naming the county."""
    from gzcharge.inputs import PlanInputs
    from gzcharge.plan import run_plan

    over = [*HAND, "public.evs_per_station=1", "tiers.highway=false", "tiers.hydrogen=false", "tiers.swap=false"]
    plan = run_plan(_synthetic_region(), load_scenario(overrides=over), PlanInputs())
    pub = plan.public
    assert len(pub.stations) < 200  # fewer candidates than the rule asks for
    head = plan.headline()
    assert head.startswith("HARD RULES MISSED (")
    assert "999901" in head and "1 per 1 EVs" in head
    assert plan.metadata()["hard_rules_missed"] >= 1
    assert plan.summary_rows()[0] == ("headline", head)


def test_met_rules_headline():
    from gzcharge.inputs import PlanInputs
    from gzcharge.plan import run_plan

    over = [*HAND, "tiers.highway=false", "tiers.hydrogen=false", "tiers.swap=false"]
    plan = run_plan(_synthetic_region(), load_scenario(overrides=over), PlanInputs())
    assert plan.unmet() == [] and plan.headline().startswith("all hard rules met")
