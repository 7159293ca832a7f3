"""Run one HiGHS solve in a child process that the parent can stop at a hard deadline.

HiGHS checks its time limit and interrupt callbacks only at some points: on a loaded machine
it has run 5-16 s past a deadline inside one MIP phase. :mod:`gzcharge.solve` therefore runs
large time-limited models here, in a separate Python process (``python -m
gzcharge._solve_child DIR``): the parent writes the model to ``DIR/model.npz``, the child
solves it, writes every improving MIP solution to ``DIR/best.npz`` (atomically) and the
final outcome to ``DIR/final.npz``. When the child has not finished at the hard deadline
the parent kills it and uses ``best.npz``; nothing keeps running after the call returns.

Only numpy and highspy are imported in the child (start-up ~0.3 s).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def write_model(path: Path, lp, *, start: np.ndarray | None, options: dict) -> None:
    """Write a ``highspy.HighsLp`` (column-wise), the MIP start and HiGHS options to ``path``."""
    a = lp.a_matrix_
    fmt = int(a.format_)
    arrays = {
        "col_cost": np.asarray(lp.col_cost_, dtype=np.float64),
        "col_lower": np.asarray(lp.col_lower_, dtype=np.float64),
        "col_upper": np.asarray(lp.col_upper_, dtype=np.float64),
        "row_lower": np.asarray(lp.row_lower_, dtype=np.float64),
        "row_upper": np.asarray(lp.row_upper_, dtype=np.float64),
        "a_start": np.asarray(a.start_, dtype=np.int32),
        "a_index": np.asarray(a.index_, dtype=np.int32),
        "a_value": np.asarray(a.value_, dtype=np.float64),
        "integrality": np.asarray(lp.integrality_, dtype=np.int8)
        if len(lp.integrality_)
        else np.zeros(0, dtype=np.int8),
        "meta": np.array(
            json.dumps(
                {
                    "num_col": int(lp.num_col_),
                    "num_row": int(lp.num_row_),
                    "format": fmt,
                    "sense": int(lp.sense_),
                    "offset": float(lp.offset_),
                    "options": options,
                }
            )
        ),
    }
    if start is not None:
        arrays["start"] = np.asarray(start, dtype=np.float64)
    np.savez(path, **arrays)


def _save(path: Path, **arrays: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def main(workdir: str) -> int:
    """Child entry point: solve ``workdir/model.npz``."""
    import highspy

    d = Path(workdir)
    z = np.load(d / "model.npz")
    meta = json.loads(str(z["meta"]))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = meta["num_col"], meta["num_row"]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = z["col_cost"], z["col_lower"], z["col_upper"]
    lp.row_lower_, lp.row_upper_ = z["row_lower"], z["row_upper"]
    lp.offset_ = meta["offset"]
    lp.sense_ = highspy.ObjSense(meta["sense"])
    lp.a_matrix_.format_ = highspy.MatrixFormat(meta["format"])
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = meta["num_col"], meta["num_row"]
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = (
        z["a_start"],
        z["a_index"],
        z["a_value"],
    )
    if len(z["integrality"]):
        lp.integrality_ = [highspy.HighsVarType(int(v)) for v in z["integrality"]]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    opts = meta["options"]
    # the deadline is absolute (wall clock): start-up and loading count against it
    deadline = float(opts.pop("_deadline_epoch", float("inf")))
    hard_end = deadline + float(opts.pop("_grace_s", 0.0))
    if deadline < float("inf"):
        opts["time_limit"] = max(deadline - time.time(), 0.0)
    for key, val in opts.items():
        h.setOptionValue(key, val)
    if "start" in z:
        sol = highspy.HighsSolution()
        sol.col_value = z["start"]
        sol.value_valid = True
        sol.dual_valid = False
        h.setSolution(sol)

    def on_improving(e) -> None:  # noqa: ANN001 - highspy callback event
        _save(
            d / "best.npz",
            x=np.array(e.data_out.mip_solution, dtype=np.float64),
            objective=np.array(float(e.data_out.objective_function_value)),
            bound=np.array(float(e.data_out.mip_dual_bound)),
        )

    def on_interrupt(e) -> None:  # noqa: ANN001
        if time.time() > hard_end:
            e.interrupt()

    h.cbMipImprovingSolution.subscribe(on_improving)
    for cb in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
        cb.subscribe(on_interrupt)
    h.run()
    info = h.getInfo()
    sol = h.getSolution()
    _save(
        d / "final.npz",
        status=np.array(int(h.getModelStatus())),
        x=np.array(sol.col_value, dtype=np.float64) if sol.value_valid else np.zeros(0),
        valid=np.array(bool(sol.value_valid)),
        objective=np.array(float(info.objective_function_value)),
        bound=np.array(float(info.mip_dual_bound)),
        nodes=np.array(int(info.mip_node_count)),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
