"""Flow-refuelling location: hand lines, the 25-node network against brute force, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from gzcharge.errors import DataError, InfeasibleError
from gzcharge.locate._common import Status
from gzcharge.locate.frlm import frlm, frlm_min_cost
from tests.conftest import net25_paths

LINE = {(0, 1): 10.0, (1, 2): 10.0, (2, 3): 10.0, (3, 4): 10.0}


def _direct_ok(path: list, lengths: dict, stations: set, R: float, round_trip: bool = True) -> bool:
    """Independent check: first stop <= R/2, gaps <= R, last stop <= R/2 from the destination."""
    pos = [0.0]
    for u, v in zip(path[:-1], path[1:], strict=True):
        pos.append(pos[-1] + lengths.get((u, v), lengths.get((v, u))))
    s = [x for node, x in zip(path, pos, strict=True) if node in stations]
    if round_trip:
        if not s:
            return False
        gaps = [b - a for a, b in zip(s[:-1], s[1:], strict=True)]
        return s[0] <= R / 2 + 1e-9 and pos[-1] - s[-1] <= R / 2 + 1e-9 and all(g <= R + 1e-9 for g in gaps)
    pts = [0.0, *s, pos[-1]]
    return all(b - a <= R + 1e-9 for a, b in zip(pts[:-1], pts[1:], strict=True))


# --------------------------------------------------------------------------- hand cases
def test_line_round_trip_by_hand() -> None:
    # L = 40, R = 20: first stop <= 10 (node 0/1), last >= 30 (node 3/4), gap <= 20 -> {1, 3} only
    two = frlm([[0, 1, 2, 3, 4]], [5.0], LINE, 20.0, p=2)
    assert two.selected == [1, 3] and two.objective == 5.0 and two.status is Status.OPTIMAL
    assert two.refuelled.tolist() == [True]
    one = frlm([[0, 1, 2, 3, 4]], [5.0], LINE, 20.0, p=1)
    assert one.objective == 0.0 and one.refuelled.tolist() == [False]
    # R = 40: one station within 20 of both ends: node 2 only (0, 1 fail at the far end)
    assert frlm([[0, 1, 2, 3, 4]], [5.0], LINE, 40.0, p=1).selected == [2]


def test_line_one_way_and_short_paths() -> None:
    # one way with a full tank: 0 -> 20 -> 40 needs node 2 (node 1: last leg 30 > 20)
    res = frlm([[0, 1, 2, 3, 4]], [5.0], LINE, 20.0, p=1, round_trip=False)
    assert res.selected == [2] and res.objective == 5.0
    # a path within range needs no station one way, but one on it for a round trip
    assert frlm([[0, 1]], [1.0], LINE, 20.0, p=0, round_trip=False).objective == 1.0
    assert frlm([[0, 1]], [1.0], LINE, 20.0, p=0).objective == 0.0
    assert frlm([[3]], [2.0], LINE, 20.0, p=1).selected == [3]


def test_line_flows_choose_between_paths() -> None:
    paths = [[0, 1, 2], [2, 3, 4], [1, 2, 3]]
    res = frlm(pd.Series(paths, index=["a", "b", "c"]).tolist(), pd.Series([3.0, 4.0, 2.0], index=["a", "b", "c"]),
               LINE, 20.0, p=1)
    # one station: node 3 refuels b (3 at 10 from 2 and 4) and c (3: 20 from 1 > 10? no) -> by rule: c needs
    # a stop within 10 of node 1 and of node 3: only node 2. b needs one within 10 of 2 and 4: node 3.
    assert res.selected == [3] and res.objective == 4.0
    assert res.refuelled.to_dict() == {"a": False, "b": True, "c": False}


def test_existing_budget_and_required_covers() -> None:
    cost = {0: 1.0, 1: 5.0, 2: 1.0, 3: 5.0, 4: 1.0}
    # budget 3 buys {0, 2, 4} (refuels with gaps 20) but not {1, 3} (cost 10)
    res = frlm([[0, 1, 2, 3, 4]], [5.0], LINE, 20.0, budget=3.0, site_cost=cost)
    assert res.selected == [0, 2, 4] and res.objective == 5.0
    # node 1 exists: then node 3 alone completes the path
    res = frlm([[0, 1, 2, 3, 4]], [5.0], LINE, 20.0, p=2, existing=[1])
    assert res.selected == [1, 3] and res.details["new_sites"] == [3]
    # a required cover on {4} forces a station there; with p = 2 the path cannot also be refuelled
    res = frlm([[0, 1, 2, 3, 4]], [5.0], LINE, 20.0, p=2, required_covers=[[4]])
    assert 4 in res.selected and res.objective == 0.0
    res = frlm([[0, 1, 2, 3, 4]], [5.0], LINE, 20.0, p=3, required_covers=[[4]])
    assert 4 in res.selected and res.objective == 5.0  # e.g. {0,2,4}, {1,2,4}, {1,3,4}
    assert _direct_ok([0, 1, 2, 3, 4], LINE, set(res.selected), 20.0)


def test_min_cost_mode() -> None:
    res = frlm_min_cost([[0, 1, 2, 3, 4], [4, 3]], [5.0, 1.0], LINE, 20.0)
    assert res.selected == [1, 3] and res.objective == 2.0
    # only the short path (1/6 of the flow) -> one station at 3 or 4
    half = frlm_min_cost([[0, 1, 2, 3, 4], [4, 3]], [5.0, 1.0], LINE, 20.0, target_share=1 / 6)
    assert half.objective == 1.0 and half.refuelled.tolist() == [False, True]
    with pytest.raises(InfeasibleError, match="1"):
        frlm_min_cost([[0, 1, 2, 3, 4], [4, 3]], [5.0, 1.0], {**LINE, (3, 4): 30.0}, 20.0)


# --------------------------------------------------------------------------- 25-node network


def _brute(paths: list, flows: np.ndarray, lengths: dict, p: int, R: float) -> float:
    nodes = sorted({n for q in paths for n in q})
    best = 0.0
    for combo in itertools.combinations(nodes, p):
        st = set(combo)
        best = max(best, sum(f for q, f in zip(paths, flows, strict=True) if _direct_ok(q, lengths, st, R)))
    return best


@pytest.mark.parametrize("p", [1, 2, 3])
def test_net25_large_range_equals_flow_capturing(p: int) -> None:
    paths, flows, lengths = net25_paths()
    res = frlm(paths, flows, lengths, 1e6, p=p)
    # flow capturing: a path is captured when any station lies on it (independent brute force)
    best = max(
        sum(f for q, f in zip(paths, flows, strict=True) if set(q) & set(c))
        for c in itertools.combinations(range(1, 26), p)
    )
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert res.status is Status.OPTIMAL


@pytest.mark.parametrize("p,R", [(2, 12.0), (3, 12.0), (3, 18.0)])
def test_net25_limited_range_matches_brute_force(p: int, R: float) -> None:
    paths, flows, lengths = net25_paths()
    res = frlm(paths, flows, lengths, R, p=p)
    st = set(res.selected)
    direct = np.array([_direct_ok(q, lengths, st, R) for q in paths])
    assert (res.refuelled.to_numpy() == direct).all()
    assert res.objective == pytest.approx(flows[direct].sum())
    assert res.objective == pytest.approx(_brute(paths, flows, lengths, p, R), rel=1e-9)
    assert res.objective > 0


def test_net25_min_cost_all_refuelled() -> None:
    paths, flows, lengths = net25_paths()
    R = 14.0
    res = frlm_min_cost(paths, flows, lengths, R)
    st = set(res.selected)
    assert all(_direct_ok(q, lengths, st, R) for q in paths)
    k = int(res.objective)
    assert len(res.selected) == k
    # one station fewer cannot refuel everything
    assert frlm(paths, flows, lengths, R, p=k - 1).objective < flows.sum() - 1e-9


# --------------------------------------------------------------------------- bad input
def test_bad_inputs() -> None:
    with pytest.raises(DataError, match=r"path 1 uses edge \(2, 7\)"):
        frlm([[0, 1, 2], [1, 2, 7]], [1.0, 1.0], LINE, 20.0, p=1)
    with pytest.raises(DataError, match="flows"):
        frlm([[0, 1, 2]], [1.0, 2.0], LINE, 20.0, p=1)
    with pytest.raises(DataError, match="0=-1"):
        frlm([[0, 1, 2]], [-1.0], LINE, 20.0, p=1)
    with pytest.raises(DataError, match="nan"):
        frlm([[0, 1, 2]], [np.nan], LINE, 20.0, p=1)
    with pytest.raises(DataError, match="larger than"):
        frlm([[0, 1, 2]], [1.0], LINE, 20.0, p=4)
    with pytest.raises(DataError, match="existing"):
        frlm([[0, 1, 2]], [1.0], LINE, 20.0, p=1, existing=[0, 2])
    with pytest.raises(DataError, match="below the cost of the existing"):
        frlm([[0, 1, 2]], [1.0], LINE, 20.0, budget=1.0, existing=[0, 2])
    with pytest.raises(DataError, match="empty"):
        frlm([], [], LINE, 20.0, p=1)
    with pytest.raises(DataError, match="path 0"):
        frlm([[]], [1.0], LINE, 20.0, p=1)
    with pytest.raises(DataError, match="vehicle_range"):
        frlm([[0, 1]], [1.0], LINE, 0.0, p=1)
    with pytest.raises(DataError, match="p"):
        frlm([[0, 1]], [1.0], LINE, 20.0)
    with pytest.raises(InfeasibleError, match="required cover 0"):
        frlm([[0, 1]], [1.0], LINE, 20.0, p=1, candidates=[0, 1], required_covers=[[9]])
