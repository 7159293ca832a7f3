"""Shared test fixtures: paths to ../shared data (present in CI, absent on planners' machines)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data; skips the test when the shared data is not beside the checkout."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not available: {p}")
    return p


@pytest.fixture
def shared() -> Path:
    """Root of ../shared/data."""
    return shared_path()


def net25_paths():
    """The 25-node network (Simchi-Levi & Berman 1988) as explicit OD paths, flows and edge lengths.

    Paths: for every node pair the lexicographically smallest of the shortest node sequences (a
    deterministic tie rule: 67 of 300 pairs have ties). Skips when ../shared is missing.
    """
    import itertools

    import networkx as nx
    import numpy as np
    import pandas as pd

    edges = pd.read_csv(shared_path("reference", "net25", "25-Node_Network_Edges.csv"), skipinitialspace=True)
    flows = pd.read_csv(shared_path("reference", "net25", "25-Node_Network_Traffic_Flow.csv"), index_col=0)
    flows.columns = flows.columns.astype(int)
    g = nx.Graph()
    lengths = {}
    for u, v, d in edges.itertuples(index=False):
        g.add_edge(int(u), int(v), length=float(d))
        lengths[(int(u), int(v))] = float(d)
    paths, f = [], []
    for i, j in itertools.combinations(sorted(g.nodes), 2):
        paths.append(min(nx.all_shortest_paths(g, i, j, weight="length")))
        f.append(float(flows.loc[i, j]))
    return paths, np.array(f), lengths
