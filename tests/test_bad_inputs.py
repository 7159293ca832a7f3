"""The bad-input suite: faults a careful user meets, each a one-line error of the right class.

Every case runs the real command line (``gzcharge.cli.main``) in this process and asserts the
exit code (the error class), one line on stderr that names the culprit, no traceback, and
the state of the output folder. Export-stage cases reuse one solved plan (普定县, public tier)
by substituting it for ``run_plan``; the reproducibility case solves 安顺市 for real, twice.

Exit codes: 2 ConfigError, 3 DataError, 4 NetworkError, 7 ExportError, 130 SIGINT, 143 SIGTERM
(128 + signal number, the shell convention).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gzcharge.cli import main

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers
@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str


def run_cli(capsys, *argv: str) -> Run:
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    cap = capsys.readouterr()
    return Run(code, cap.out, cap.err)


def assert_error(r: Run, code: int, *needles: str) -> str:
    """Exit ``code``, exactly one stderr line, naming every needle, no traceback."""
    assert r.code == code, (r.code, r.err, r.out[-500:])
    assert "Traceback" not in r.err + r.out
    lines = [x for x in r.err.splitlines() if x.strip()]
    assert len(lines) == 1, r.err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


# --------------------------------------------------------------------------- CLI options
@pytest.mark.parametrize(
    ("args", "code", "needles"),
    [
        (["--out", "{d}/p.txt", "--prefecture", "安顺市"], 2, ["--out", "p.txt", ".gpkg"]),
        (["--out", "{d}/missing/p.gpkg", "--prefecture", "安顺市"], 7, ["missing", "does not exist"]),
        (["--out", "{d}/folder.gpkg", "--prefecture", "安顺市"], 7, ["folder.gpkg", "is a folder"]),
        (["--out", "{d}/p.gpkg", "--prefecture", "安顺市", "--province"], 2, ["exactly one area"]),
        (["--out", "{d}/p.gpkg", "--county", "普定县", "--tiers", "public,bogus"], 2, ["--tiers", "bogus"]),
        (["--out", "{d}/p.gpkg", "--county", "普定县", "--crs", "bd10"], 2, ["bd10"]),
        (["--out", "{d}/p.gpkg", "--county", "普定县", "--timeout", "0"], 2, ["--timeout", "0"]),
        (["--out", "{d}/p.gpkg", "--county", "普定县", "--timeout", "-5"], 2, ["--timeout", "-5"]),
        (["--out", "{d}/p.gpkg", "--county", "普定县", "--timeout", "inf"], 2, ["--timeout", "inf"]),
        (["--out", "{d}/p.gpkg", "--county", "普定县", "--timeout", "1e9"], 2, ["--timeout", "86400"]),
        # absurd solver settings never reach HiGHS (it aborts with SIGABRT on them)
        (["--set", "solver.threads=100000"], 2, ["solver.threads", "100000", "allowed range [1,"]),
        (["--set", "solver.threads=0"], 2, ["solver.threads", "threads = 0"]),
        (["--set", "solver.time_limit_s=1e12"], 2, ["solver.time_limit_s", "1e+12", "[1, 86400]"]),
        (["--set", "solver.time_limit_s=0.001"], 2, ["solver.time_limit_s", "0.001"]),
        (["--set", "solver.mip_rel_gap=1"], 2, ["solver.mip_rel_gap", "[0, 1)"]),
        (["--set", "solver.mip_rel_gap=-0.1"], 2, ["solver.mip_rel_gap", "-0.1"]),
        (["--set", "public.township_radius_km=0"], 2, ["public.township_radius_km"]),
        (["--set", "public.township_radius_km=5000"], 2, ["public.township_radius_km", "5000", "(0, 1000]"]),
        (["--set", "public.township_radius_km=nan"], 2, ["public.township_radius_km"]),
        (["--set", "public.plug_kw=inf"], 2, ["public.plug_kw"]),
        (["--set", "joint.time_limit_s=1e9"], 2, ["joint.time_limit_s", "[1, 86400]"]),
        (["--set", "highway.range_km=-1"], 2, ["highway.range_km"]),
        (["--set", "swap.horizon_days=1e9"], 2, ["swap.horizon_days", "36500"]),
        (["--set", "nosuch.key=1"], 2, ["nosuch.key"]),
        (["--set", "public.township_radius_km"], 2, ["--set", "public.township_radius_km"]),
    ],
)
def test_bad_option(capsys, tmp_path, args, code, needles):
    (tmp_path / "folder.gpkg").mkdir()
    args = [a.replace("{d}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args = ["--out", str(tmp_path / "p.gpkg"), "--county", "普定县", *args]
    r = run_cli(capsys, "plan", *args)
    assert_error(r, code, *needles)
    assert listing(tmp_path) == ["folder.gpkg"]  # nothing written, no temporaries


# --------------------------------------------------------------------------- scenario files
@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (bytes(range(256)) * 4, ["scenario.toml", "not a text TOML file"]),
        (b"name = 'x'\n[solver\n", ["scenario.toml", "not valid TOML"]),
        (b"[public]\ntownship_radius = 5\n", ["scenario.toml", "public.township_radius"]),
        (b"[solver]\nthreads = 1000000\n", ["scenario.toml", "solver.threads", "1000000"]),
        (b"[solver]\ntime_limit_s = -1\n", ["scenario.toml", "solver.time_limit_s", "-1"]),
        (b"[public]\nmin_plugs = 5000\n", ["scenario.toml", "public.min_plugs", "5000"]),
        ("[public]\nkwh_per_ev_day = 1e6\n".encode("utf-16"), ["scenario.toml"]),
    ],
    ids=["binary", "bad-toml", "unknown-key", "threads", "time-limit", "min-plugs", "utf16"],
)
def test_bad_scenario_file(capsys, tmp_path, content, needles):
    scen = tmp_path / "scenario.toml"
    scen.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    r = run_cli(capsys, "plan", "--county", "普定县", "--out", out / "p.gpkg", "--scenario", scen)
    assert_error(r, 2, *needles)
    assert listing(out) == []


def test_missing_scenario_file(capsys, tmp_path):
    r = run_cli(capsys, "plan", "--county", "普定县", "--out", tmp_path / "p.gpkg", "--scenario", tmp_path / "no.toml")
    assert_error(r, 2, "no.toml", "does not exist")


# --------------------------------------------------------------------------- OSM files
@pytest.mark.parametrize(
    ("name", "content"),
    [("roads.osm", b"\x00\x01garbage" * 100), ("roads.osm.pbf", b"<osm>not a pbf</osm>"),
     ("roads.osm.bz2", b"BZh9 not really bzip2"), ("roads.osm", b"")],
    ids=["garbage-xml", "text-as-pbf", "bad-bz2", "empty"],
)
def test_bad_osm_file(capsys, tmp_path, name, content):
    f = tmp_path / name
    f.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    r = run_cli(capsys, "network", "--region", "普定县", "--osm-file", f, "--out", out / "n.gpkg")
    assert_error(r, 3, name)
    assert listing(out) == []


def test_missing_osm_file(capsys, tmp_path):
    r = run_cli(capsys, "network", "--region", "普定县", "--osm-file", tmp_path / "none.osm.pbf",
                "--out", tmp_path / "n.gpkg")
    assert_error(r, 3, "none.osm.pbf")


# --------------------------------------------------------------------------- Overpass faults
class _FaultyOverpass:
    """An HTTP server on 127.0.0.1 that fails the way real Overpass servers and proxies do."""

    def __init__(self, mode: str) -> None:
        self.release = threading.Event()
        release = self.release

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                self.do_GET()

            def do_GET(self):
                if mode == "hang":
                    release.wait(30)
                    return
                status, body = {"garbage": (200, b"<html>proxy login</html>"), "shape": (200, b"[1, 2, 3]"),
                                "error500": (500, b"internal"), "busy": (429, b"slow down"),
                                "drip": (200, b"{" + b" " * 200)}[mode]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) + (10_000 if mode == "drip" else 0)))
                self.end_headers()
                if mode == "drip":  # one byte every 0.5 s: no single read ever times out
                    for b in body:
                        if release.wait(0.5):
                            return
                        with contextlib.suppress(OSError):
                            self.wfile.write(bytes([b]))
                            self.wfile.flush()
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("mode", "timeout", "needles"),
    [("drip", 2, ["deadline", "2 s"]), ("hang", 1, ["1 s"]), ("garbage", 5, ["not an Overpass JSON result"]),
     ("error500", 5, ["500"]), ("busy", 5, ["429"])],
)
def test_overpass_fault_is_a_network_error(capsys, tmp_path, monkeypatch, mode, timeout, needles):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    server = _FaultyOverpass(mode)
    out = tmp_path / "out"
    out.mkdir()
    try:
        t0 = time.monotonic()
        r = run_cli(capsys, "network", "--region", "普定县", "--online", "--endpoint", server.endpoint,
                    "--timeout", str(timeout), "--out", out / "n.gpkg")
        elapsed = time.monotonic() - t0
    finally:
        server.close()
    assert_error(r, 4, server.endpoint, *needles)
    # a deadline, not per read: the drip's body lasts 100 s (200 bytes, one per 0.5 s); the margin
    # is the command's own start (imports, region) on a busy machine
    assert elapsed < timeout + 10
    assert listing(out) == []


def test_overpass_unreachable(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here now
    r = run_cli(capsys, "network", "--region", "普定县", "--online", "--endpoint", f"http://127.0.0.1:{port}/api",
                "--timeout", "3", "--out", tmp_path / "n.gpkg")
    assert_error(r, 4, f"127.0.0.1:{port}", "--osm-file")


# --------------------------------------------------------------------------- one solved plan, many exports
@pytest.fixture(scope="module")
def solved_plan():
    """The 普定县 public-tier plan, solved once for every export-stage case."""
    from gzcharge.plan import run_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    reg = get_region("普定县")
    scen = load_scenario(default_scenario_path(str(reg.code)), overrides=[
        "tiers.public=true", "tiers.highway=false", "tiers.swap=false", "tiers.hydrogen=false"])
    return run_plan(reg, scen)


@pytest.fixture
def fake_solve(monkeypatch, solved_plan):
    """``gzcharge plan`` runs the real CLI path but takes the solved plan instead of solving again."""
    import gzcharge.plan as plan_mod

    def run(region, scenario, inputs=None, *, progress=None):
        p = copy.copy(solved_plan)
        p.inputs, p.notices, p.timings = inputs, list(solved_plan.notices), dict(solved_plan.timings)
        return p

    monkeypatch.setattr(plan_mod, "run_plan", run)
    return lambda folder, *extra: ("plan", "--county", "普定县", "--tiers", "public", "--out", folder / "p.gpkg",
                                   *extra)


SET = ["p.gpkg", "p.qgz", "p_report.html", "p_report.md", "p_report.png", "p_tables.xlsx"]


@pytest.fixture
def previous_set(capsys, fake_solve, tmp_path):
    """A folder holding the complete output set of an earlier good run."""
    folder = tmp_path / "plans"
    folder.mkdir()
    r = run_cli(capsys, *fake_solve(folder))
    assert r.code == 0, r.err
    assert listing(folder) == SET
    return folder, digest(folder)


@pytest.mark.parametrize(
    ("stage", "sig", "code"),
    [("before:p.gpkg", "SIGTERM", 143), ("after:p.gpkg", "SIGTERM", 143), ("before:p_report.png", "SIGINT", 130),
     ("after:p_report.png", "SIGTERM", 143), ("after:p_report.html", "SIGINT", 130), ("commit", "SIGTERM", 143)],
)
def test_signal_during_each_output_stage_keeps_previous_set(capsys, monkeypatch, fake_solve, previous_set,
                                                            stage, sig, code):
    folder, before = previous_set
    monkeypatch.setenv("GZCHARGE_TEST_SIGNAL_AT", f"{stage}:{sig}")
    r = run_cli(capsys, *fake_solve(folder, "--set", "public.township_radius_km=9"))
    line = assert_error(r, code, f"interrupted ({sig})", "nothing written")
    assert "Traceback" not in line
    assert digest(folder) == before  # the previous set, byte for byte; no hidden temporaries


def test_sigterm_in_a_real_process_removes_temporaries(tmp_path):
    """A separate process, killed by SIGTERM while its GeoPackage is written: 143, one line, folder clean."""
    env = {**os.environ, "GZCHARGE_TEST_SIGNAL_AT": "after:p.gpkg:SIGTERM", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "gzcharge", "plan", "--county", "普定县", "--tiers", "public",
                           "--no-report", "--out", str(tmp_path / "p.gpkg")],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 143, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]  # log warnings of the run, then the one line
    assert lines[-1] == "interrupted (SIGTERM) — nothing written (existing output files are unchanged)"
    assert "Traceback" not in proc.stderr
    assert listing(tmp_path) == []


def test_disk_full_during_report_keeps_previous_set(capsys, fake_solve, previous_set, tmp_path):
    """A tmpfs that holds the previous set and a new GeoPackage but not the new report."""
    folder, before = previous_set
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        for name in SET:
            (mnt / name).write_bytes((folder / name).read_bytes())
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        gpkg = (folder / "p.gpkg").stat().st_size
        (mnt / "filler").write_bytes(b"\0" * (free - gpkg - 64 * 1024))  # room for the GeoPackage only
        r = run_cli(capsys, *fake_solve(mnt))
        assert_error(r, 7, str(mnt), "no space left")
        assert {k: v for k, v in digest(mnt).items() if k != "filler"} == before
        assert listing(mnt) == sorted([*SET, "filler"])
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_read_only_target(capsys, fake_solve, previous_set, tmp_path):
    folder, before = previous_set
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        (mnt / "p.gpkg").write_bytes((folder / "p.gpkg").read_bytes())
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        r = run_cli(capsys, *fake_solve(mnt))
        assert r.code == 7, r.err
        assert_error(r, 7, str(mnt))
        assert "read-only" in r.err or "not writable" in r.err
        assert listing(mnt) == ["p.gpkg"]
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_no_report_removes_the_stale_report_of_the_set(capsys, fake_solve, previous_set):
    folder, _ = previous_set
    r = run_cli(capsys, *fake_solve(folder, "--no-report"))
    assert r.code == 0, r.err
    # an old report would describe another plan; the QGIS project belongs to the GeoPackage and stays
    assert listing(folder) == ["p.gpkg", "p.qgz"]


def test_timings_go_to_their_own_file(capsys, fake_solve, tmp_path):
    import json

    r = run_cli(capsys, *fake_solve(tmp_path, "--timings"))
    assert r.code == 0, r.err
    rec = json.loads((tmp_path / "p_timings.json").read_text())
    assert "public" in rec["solve_s"] and "export_gpkg" in rec["stages_s"]
    con = sqlite3.connect(tmp_path / "p.gpkg")
    keys = [k for (k,) in con.execute("select key from run_metadata")]
    con.close()
    assert not [k for k in keys if "timings" in k or k.endswith(".seconds")]


def test_concurrent_runs_on_one_output_leave_one_complete_set(fake_solve, solved_plan, tmp_path):
    """Two writers of the same output at once: last writer wins, the set is never a mix."""
    from gzcharge.plan import write_plan

    out = tmp_path / "p.gpkg"
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        p = copy.copy(solved_plan)
        p.notices, p.timings = [*solved_plan.notices, f"run {tag}"], {}
        try:
            for _ in range(2):
                write_plan(p, out)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert listing(tmp_path) == SET
    con = sqlite3.connect(out)
    notices = dict(con.execute("select key, value from run_metadata")).get("notices", "")
    con.close()
    report = (tmp_path / "p_report.md").read_text(encoding="utf-8")
    tag = "A" if "run A" in notices else "B"
    assert f"run {tag}" in notices and f"- run {tag}" in report
    assert f"run {'B' if tag == 'A' else 'A'}" not in report


# --------------------------------------------------------------------------- notices, metadata, warnings
def _meta(gpkg: Path) -> dict[str, str]:
    con = sqlite3.connect(gpkg)
    try:
        return dict(con.execute("select key, value from run_metadata"))
    finally:
        con.close()


@pytest.mark.parametrize("flag", ["--od", "--h2-sources", "--fleets", "--freight-od"])
def test_input_given_but_not_used_is_named(capsys, fake_solve, tmp_path, flag):
    f = tmp_path / "input.csv"
    f.write_text("a,b\n1,2\n")
    r = run_cli(capsys, *fake_solve(tmp_path, flag, f))
    assert r.code == 0, r.err
    assert f"{flag} {f} was not used" in r.err
    assert f"{flag} {f} was not used" in _meta(tmp_path / "p.gpkg")["notices"]


def test_crs_gcj02_is_recorded(capsys, fake_solve, tmp_path):
    r = run_cli(capsys, *fake_solve(tmp_path, "--crs", "gcj02"))
    assert r.code == 0, r.err
    meta = _meta(tmp_path / "p.gpkg")
    assert meta["input_crs"] == "gcj02" and meta["gcj02_converted"] == "none"  # no file was given to convert


def test_library_warning_does_not_print_before_the_error(capsys, monkeypatch, tmp_path):
    import gzcharge.plan as plan_mod
    from gzcharge.errors import DataError

    def run(*a, **k):
        warnings.warn("/usr/lib/python3/site-packages/pyogrio/raw.py:198: Measured (M) geometry types are not "
                      "supported", RuntimeWarning, stacklevel=1)
        raise DataError("roads.csv: column lon is missing")

    monkeypatch.setattr(plan_mod, "run_plan", run)
    r = run_cli(capsys, "plan", "--county", "普定县", "--tiers", "public", "--out", tmp_path / "p.gpkg")
    assert_error(r, 3, "roads.csv")
    assert "site-packages" not in r.err


def test_compare_names_the_flag_for_different_regions(capsys, fake_solve, previous_set, tmp_path):
    folder, _ = previous_set
    other = tmp_path / "other.gpkg"
    other.write_bytes((folder / "p.gpkg").read_bytes())
    con = sqlite3.connect(other)
    with con:
        con.execute("update run_metadata set value = '520423' where key = 'region_code'")
    con.close()
    r = run_cli(capsys, "compare", folder / "p.gpkg", other, "--out", tmp_path / "c.gpkg")
    assert_error(r, 3, "--allow-different-regions")
    assert not (tmp_path / "c.gpkg").exists()


# --------------------------------------------------------------------------- reproducible outputs
def test_two_runs_of_anshun_are_byte_identical(capsys, tmp_path, monkeypatch):
    """``gzcharge plan --prefecture 安顺市`` twice: identical GeoPackage, report and map.

    The default scenario reaches its 1 % gap well before its time limit (measured: ~14 s of
    60 s here), so HiGHS's deterministic search returns the same plan both times.
    """
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    digests = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        r = run_cli(capsys, "plan", "--prefecture", "安顺市", "--out", folder / "p.gpkg")
        assert r.code == 0, r.err
        assert _meta(folder / "p.gpkg")["public.status"] == "optimal"  # the gap was reached, not the limit
        digests.append(digest(folder))
    assert digests[0] == digests[1]
    assert sorted(digests[0]) == SET
    con = sqlite3.connect(tmp_path / "a" / "p.gpkg")
    stamps = {v for (v,) in con.execute("select last_change from gpkg_contents")}
    con.close()
    assert stamps == {"1970-01-01T00:00:00.000Z"}


def test_source_date_epoch_sets_the_stamp(capsys, fake_solve, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14T22:13:20Z (date -u -d @1700000000)
    r = run_cli(capsys, *fake_solve(tmp_path))
    assert r.code == 0, r.err
    con = sqlite3.connect(tmp_path / "p.gpkg")
    stamps = {v for (v,) in con.execute("select last_change from gpkg_contents")}
    styles = {v for (v,) in con.execute("select update_time from layer_styles")}
    con.close()
    assert stamps == styles == {"2023-11-14T22:13:20.000Z"}
