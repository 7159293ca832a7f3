from __future__ import annotations

import subprocess
import sys
import time

from gzcharge.cli import main


def test_help_is_fast():
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "gzcharge", "--help"], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    assert out.returncode == 0, out.stderr
    assert "gzcharge" in out.stdout
    # the interpreter start itself is ~0.05 s; heavy imports (osmnx 1.8 s) would blow this
    assert elapsed < 1.5, elapsed


def test_help_imports_no_heavy_modules():
    code = (
        "import sys; import gzcharge.cli; "
        "bad=[m for m in ('osmnx','geopandas','pyomo','highspy','matplotlib') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version(capsys):
    try:
        main(["version"])
    except SystemExit as e:
        assert e.code in (0, None)
    assert "0.1.0" in capsys.readouterr().out
