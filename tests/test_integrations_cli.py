"""`pyloss info`, `pyloss plot` (skips without matplotlib) and `pyloss bench --contended`."""
import json
import sys

import numpy as np
import pytest

import pyloss as pl
from pyloss import cli


def test_info_text_and_json(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"pyloss {pl.__version__}" in out and "backends:" in out and "CPU features" in out
    assert cli.main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["backends"]["numpy"] == "available"
    assert set(info["cpu_features"]) == {"sse4_2", "avx", "avx2", "fma", "avx512f"}
    assert set(info["integrations"]) == {"torch", "boosting", "sklearn", "dask", "plot"}
    if "c" in pl.backends():
        assert "-O3" in info["c_extension"]["flags"] and "-ffast-math" not in info["c_extension"]["flags"]
        assert isinstance(info["c_extension"]["openmp"], bool)
        assert isinstance(info["c_extension"]["pool_workers"], int)


def test_info_imports_no_integration():
    import subprocess
    code = ("import sys, pyloss.cli as c; c.main(['info']); "
            "print([m for m in ('torch','sklearn','dask','xgboost','lightgbm','matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_plot_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit, match="matplotlib"):
        cli.main(["plot", "mse", "-o", str(tmp_path / "m.png")])


def _png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_loss_preset_and_gallery(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from pyloss import _plot
    out = tmp_path / "huber.png"
    assert cli.main(["plot", "huber", "--param", "delta=0.5", "-o", str(out)]) == 0
    assert _png(out)
    assert cli.main(["plot", "regression", "-o", str(tmp_path / "r.png")]) == 0
    assert _png(tmp_path / "r.png")
    assert cli.main(["plot", "--gallery", str(tmp_path / "g")]) == 0
    made = capsys.readouterr().out.split()
    expect = set(_plot.plottable()) | set(_plot.presets())
    assert {p.rsplit("/", 1)[-1][:-4] for p in made if p.endswith(".png") and "/g/" in p} == expect
    assert all(_png(p) for p in made if "/g/" in p)
    assert "regression.png" in (tmp_path / "g" / "gallery.md").read_text()


def test_plot_curves_are_the_kernels():
    pytest.importorskip("matplotlib")
    import numpy as np
    from pyloss import _plot
    x, v, g, h = _plot._curve("residual", "huber", {"delta": 1.0})
    np.testing.assert_array_equal(v, pl.huber(x, 0 * x, reduction="none"))
    np.testing.assert_array_equal(g, np.clip(x, -1, 1))
    np.testing.assert_array_equal(h, (np.abs(x) <= 1).astype(float))


def test_plot_errors(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert cli.main(["plot", "no_such_loss", "-o", str(tmp_path / "x.png")]) == 2
    assert "no_such_loss" in capsys.readouterr().err
    assert cli.main(["plot", "huber", "--param", "delta", "-o", str(tmp_path / "x.png")]) == 2
    assert cli.main(["plot", "huber", "--param", "delta=-1", "-o", str(tmp_path / "x.png")]) == 2
    assert "delta" in capsys.readouterr().err
    assert cli.main(["plot"]) == 2


needs_numba = pytest.mark.skipif("numba" not in pl.backends(), reason="numba backend not available")


@needs_numba
def test_warmup_command_compiles_and_reports(capsys):
    assert cli.main(["warmup", "--losses", "mse,kl_div", "--dtypes", "float32", "--serial-only"]) == 0
    out = capsys.readouterr().out
    assert "mse" in out and "kl_div" in out and "2 loss/dtype pairs" in out
    rows = pl.warmup(["huber"], ["float64"], parallel=False)
    assert [(r["loss"], r["dtype"]) for r in rows] == [("huber", "float64")]
    assert rows[0]["seconds"] >= 0
    # the kernels it compiled are the ones a call then uses: same results as before
    a, b = np.linspace(-3, 3, 64), np.zeros(64)
    assert pl.huber(a, b, backend="numba") == pytest.approx(pl.huber(a, b, backend="numpy"), rel=1e-12)


@needs_numba
def test_warmup_rejects_unknown_losses(capsys):
    with pytest.raises(ValueError, match="no_such_loss"):
        pl.warmup(["no_such_loss"])
    with pytest.raises(SystemExit, match="no_such_loss"):
        cli.main(["warmup", "--losses", "no_such_loss"])


def test_bench_contended_reports_both_states(tmp_path, capsys, monkeypatch, restore_threads):
    """`pyloss bench --contended` (two calls per row, to stay quick): a row per
    workload with idle and busy columns, the JSON with both states, and the
    busy processes gone afterwards."""
    import os
    import pyloss.bench.contended as contended
    path = tmp_path / "c.json"
    started = []
    real = contended._busy
    monkeypatch.setattr(contended, "_busy", lambda n: started.extend(real(n)) or started)
    assert cli.main(["bench", "--contended", "--repeat", "2", "--gap-ms", "0",
                     "--json", str(path)]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "workload" not in ln]
    assert [r.split(" | ")[0][2:] for r in rows] == [w[0] for w in contended._WORKLOADS]
    data = json.loads(path.read_text())
    assert len(data["idle"]) == len(data["busy"]) == len(contended._WORKLOADS)
    assert all(r["median"] > 0 and r["p90"] >= r["median"] for r in data["idle"] + data["busy"])
    assert len(started) == data["busy_processes"] == max(1, (os.cpu_count() or 2) - 1)
    assert all(p.poll() is not None for p in started)
