"""Shared test fixtures.

* Public reference instances (OR-Library p-median, spopt's San Francisco data, the 25-node network)
  are committed under ``tests/data/reference`` (sources and licences in its README) and read
  through :func:`reference_path`: they are present in every clone, so a missing file fails.
* Guizhou test-only data (redistribution unclear) stays in ``../shared/data``, read through
  :func:`shared_path`, which skips when it is not beside the checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
REFERENCE = ROOT / "tests" / "data" / "reference"


def reference_path(*parts: str) -> Path:
    """Path of a committed reference file under ``tests/data/reference`` (fails when it is missing)."""
    p = REFERENCE.joinpath(*parts)
    if not p.exists():
        raise FileNotFoundError(f"committed test data missing: {p}; restore tests/data/reference from git")
    return p


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
    deterministic tie rule: 67 of 300 pairs have ties). Read from ``tests/data/reference/net25``.
    """
    import itertools

    import networkx as nx
    import numpy as np
    import pandas as pd

    edges = pd.read_csv(reference_path("net25", "25-Node_Network_Edges.csv"), skipinitialspace=True)
    flows = pd.read_csv(reference_path("net25", "25-Node_Network_Traffic_Flow.csv"), index_col=0)
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
