"""The output-set API: all files of a run renamed into place together, or none."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from gzcharge.errors import ExportError
from gzcharge.export.outputs import OutputSet, committed, export_error, output_file, pending_path


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_set_commits_all_files_together(tmp_path: Path) -> None:
    with OutputSet(tmp_path) as out:
        a = out.temp_for("plan.gpkg")
        a.write_bytes(b"A")
        with output_file(tmp_path / "plan_report.md") as b:
            b.write_text("report")
        assert pending_path(tmp_path / "plan_report.md") == b
        assert _listing(tmp_path) == sorted([a.name, b.name])  # nothing final before commit
    assert _listing(tmp_path) == ["plan.gpkg", "plan_report.md"]
    assert (tmp_path / "plan.gpkg").read_bytes() == b"A"
    assert tmp_path / "plan.gpkg" in committed()


def test_failure_keeps_previous_set_and_removes_temporaries(tmp_path: Path) -> None:
    (tmp_path / "plan.gpkg").write_bytes(b"old")
    (tmp_path / "plan_report.md").write_text("old report")
    with pytest.raises(RuntimeError), OutputSet(tmp_path) as out:
        out.temp_for("plan.gpkg").write_bytes(b"new")
        with output_file(tmp_path / "plan_report.md") as tmp:
            tmp.write_text("half")
            raise RuntimeError("drawing failed")
    assert _listing(tmp_path) == ["plan.gpkg", "plan_report.md"]
    assert (tmp_path / "plan.gpkg").read_bytes() == b"old"


def test_replaces_removes_files_of_the_set_not_written(tmp_path: Path) -> None:
    (tmp_path / "p_report.md").write_text("stale")
    with OutputSet(tmp_path, replaces=["p_report.md"]) as out:
        out.temp_for("p.gpkg").write_bytes(b"x")
    assert _listing(tmp_path) == ["p.gpkg"]


def test_missing_temporary_is_an_error_and_nothing_moves(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="nothing was written"), OutputSet(tmp_path) as out:
        out.temp_for("a.png").write_bytes(b"x")
        out.temp_for("b.md")  # never written
    assert _listing(tmp_path) == []


def test_leftover_temporary_of_a_dead_process_is_swept(tmp_path: Path) -> None:
    # pid 2**22 + 1 is above the default pid_max (4194304) of Linux, so no process has it
    dead = tmp_path / f".x.gpkg.{2**22 + 1}-0123abcd.tmp.gpkg"
    dead.write_bytes(b"junk")
    mine = tmp_path / f".y.gpkg.{os.getpid()}-0123abcd.tmp.gpkg"
    mine.write_bytes(b"in use")
    with OutputSet(tmp_path) as out:
        out.temp_for("z.md").write_text("z")
    assert _listing(tmp_path) == [mine.name, "z.md"]


def test_disk_errors_become_export_errors_naming_the_file() -> None:
    e = export_error(OSError(errno.ENOSPC, "No space left on device"), "out/plan.gpkg")
    assert isinstance(e, ExportError) and "out/plan.gpkg" in str(e) and "no space" in str(e)
    e = export_error(RuntimeError("sqlite3_exec(...) failed: database or disk is full"), "p.gpkg")
    assert e is not None and "no space" in str(e)
    assert export_error(ValueError("bad value"), "p.gpkg") is None


def test_one_file_outside_a_set_is_its_own_set(tmp_path: Path) -> None:
    with output_file(tmp_path / "a.txt") as tmp:
        tmp.write_text("a")
        assert not (tmp_path / "a.txt").exists()
    assert (tmp_path / "a.txt").read_text() == "a"


def _map_layers():
    import geopandas as gpd
    from shapely.geometry import Point, box

    counties = gpd.GeoDataFrame({"name": ["西秀区", "平坝区"], "adcode": ["520402", "520403"]},
                                geometry=[box(105.8, 26.1, 106.1, 26.4), box(106.1, 26.3, 106.4, 26.6)], crs=4326)
    towns = gpd.GeoDataFrame({"name": ["安顺", "平坝"], "kind": ["县城", "乡镇"]},
                             geometry=[Point(105.93, 26.25), Point(106.25, 26.4)], crs=4326)
    return {"counties": counties, "townships": towns}


def test_map_drawn_by_the_child_is_the_inline_map_byte_for_byte(tmp_path, monkeypatch):
    """MapJob's forked child draws the same PNG as render_map in this process, into the open set."""
    import os

    from gzcharge.export.outputs import OutputSet
    from gzcharge.export.report import MapJob, render_map

    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    render_map(tmp_path / "inline.png", _map_layers(), title="安顺市")
    with OutputSet() as s:
        job = MapJob(tmp_path / "child.png", _map_layers(), title="安顺市")
        assert job._pid is not None  # drawn by a child
        assert not (tmp_path / "child.png").exists()  # nothing final before the set commits
        assert job.wait() == tmp_path / "child.png"
        assert s.staged(tmp_path / "child.png").exists()
    assert (tmp_path / "child.png").read_bytes() == (tmp_path / "inline.png").read_bytes()
    monkeypatch.setenv("GZCHARGE_MAP_INLINE", "1")
    with OutputSet():
        job = MapJob(tmp_path / "here.png", _map_layers(), title="安顺市")
        assert job._pid is None
        job.wait()
    assert (tmp_path / "here.png").read_bytes() == (tmp_path / "inline.png").read_bytes()


def test_failed_set_stops_the_map_child_and_leaves_no_file(tmp_path):
    from gzcharge.export.outputs import OutputSet
    from gzcharge.export.report import MapJob

    with pytest.raises(RuntimeError), OutputSet():
        job = MapJob(tmp_path / "m.png", _map_layers(), title="x")
        try:
            raise RuntimeError("a later writer failed")
        except BaseException:
            job.cancel()
            raise
    assert sorted(p.name for p in tmp_path.iterdir()) == []
