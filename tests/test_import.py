"""Import-time and first-call overheads, backend discovery and fallback,
and checking mode (``pl.checking()`` and ``PYLOSS_CHECK=1``)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pyloss as pl
import pyloss._dispatch as D
from conftest import F32, F64, call, case_of, make, ops_of, reductions_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = pl.losses()
BACKENDS = pl.backends()


# The directory holding the pyloss under test: the checkout for an in-place
# build, site-packages for an installed one (the checkout's own pyloss/ has no
# compiled extension there, so a subprocess must not pick it up).
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(pl.__file__)))


def run_python(code, env=None):
    """Run code in a fresh interpreter importing the pyloss under test."""
    e = dict(os.environ)
    e.pop("PYLOSS_CHECK", None)
    e["PYTHONPATH"] = PKG_PARENT + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                       cwd=os.path.dirname(PKG_PARENT), env=e,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"subprocess failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def test_import_does_not_import_numba():
    out = run_python("""
        import sys
        import pyloss as pl
        print(pl.__file__)
        print(sorted(m for m in sys.modules if m == "numba" or m.startswith("numba.")))
        pl.losses(); pl.backends(); pl.backends(verbose=True)
        print(sorted(m for m in sys.modules if m == "numba" or m.startswith("numba.")))
    """)
    lines = out.strip().splitlines()
    assert lines[0].startswith(os.path.join(PKG_PARENT, "pyloss")), lines[0]
    assert lines[1] == "[]" and lines[2] == "[]", out


@pytest.mark.skipif("c" not in BACKENDS, reason="C backend not built")
def test_first_c_call_compiles_nothing():
    out = run_python("""
        import sys, time
        import numpy as np
        import pyloss as pl
        a = np.linspace(-1, 1, 1000, dtype=np.float32)
        b = np.zeros(1000, np.float32)
        t0 = time.perf_counter()
        pl.mse(a, b, backend="c")
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        for name in pl.losses():
            loss = pl.get(name)
            arrays, opts = loss.example(np.random.default_rng(0), 100, np.dtype(np.float32))
            loss(*arrays, **opts)                      # auto: C where it is built
            loss.value_and_grad(*arrays, backend="c", **opts)
            if loss.has_hessian:
                loss.hessian(*arrays, backend="c", **opts)
        rest = time.perf_counter() - t0
        heavy = [m for m in sys.modules if m.split(".")[0] in ("numba", "llvmlite", "setuptools",
                 "distutils") or m in ("cffi.recompiler", "cffi.verifier", "cffi.ffiplatform")]
        print(first, rest, heavy)
    """)
    first, rest, heavy = out.split(" ", 2)
    assert heavy.strip() == "[]", f"modules a C call should never import: {heavy}"
    assert float(first) < 0.5, f"first C call took {float(first):.3f} s"
    assert float(rest) < 2.0, f"first calls of every loss took {float(rest):.3f} s"


def test_backends_and_losses():
    b = pl.backends()
    assert isinstance(b, tuple) and b[-1] == "numpy" and set(b) <= {"c", "numba", "numpy"}
    v = pl.backends(verbose=True)
    assert set(v) == {"c", "numba", "numpy"} and v["numpy"] == "available"
    for k in ("c", "numba"):
        # "available", or "available (one portable build, ...)" for a C
        # build without per-CPU builds
        assert v[k].startswith("available") == (k in b), v
        assert isinstance(v[k], str) and v[k]
    names = pl.losses()
    assert isinstance(names, tuple) and all(isinstance(n, str) for n in names)
    for n in ("mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile"):
        assert n in names


@pytest.fixture
def no_c(monkeypatch):
    a = dict(D._probe())
    a.update(c=False, c_reason="the C extension is not built (simulated by the test)")
    monkeypatch.setattr(D, "_available", a)
    # A real build without C never caches C kernels on a loss object: drop any
    # per-loss cache of C entry points built earlier in this process, and put
    # back afterwards whatever was there (None included: a cache built while C
    # is simulated away must not outlive the test).
    for name in pl.losses():
        loss = pl.get(name)
        if hasattr(loss, "_fast"):
            monkeypatch.setattr(loss, "_fast", None)
    return a


def _spy_backend(monkeypatch, loss):
    used = []
    real = loss._compute

    def spy(c, backend, *args, **kw):
        used.append(backend)
        return real(c, backend, *args, **kw)
    monkeypatch.setattr(loss, "_compute", spy)
    return used


@pytest.mark.parametrize("name", NAMES)
def test_build_without_c_falls_back(name, no_c, monkeypatch):
    loss = pl.get(name)
    arrays, opts = make(name, np.random.default_rng(0), (7, 5), F64)
    assert "c" not in pl.backends()
    assert "simulated" in pl.backends(verbose=True)["c"]
    want = loss(*arrays, backend="numpy", **opts)
    used = _spy_backend(monkeypatch, loss)
    v = loss(*arrays, **opts)
    assert used == ["numba" if no_c["numba"] else "numpy"]
    np.testing.assert_allclose(v, want, rtol=1e-10)
    for op in ops_of(loss):
        with pytest.raises(pl.PylossValueError, match="backend='c'.*simulated"):
            call(loss, op, arrays, opts, "mean", "c")
    # and without numba either: everything on numpy
    monkeypatch.setattr(D, "_available", dict(no_c, numba=False, numba_reason="numba is not installed"))
    assert pl.backends() == ("numpy",)
    used.clear()
    v = loss(*arrays, **opts)
    assert used == ["numpy"]
    with pytest.raises(pl.PylossValueError, match="numba is not installed"):
        loss(*arrays, backend="numba", **opts)


# ------------------------------------------------------------------ checking

def _break(monkeypatch, loss):
    """Make every non-reference backend answer 1.5x + 1 (a wrong kernel)."""
    real = loss._compute

    def wrong(c, backend, *args, **kw):
        r = real(c, backend, *args, **kw)
        if backend == "numpy":
            return r

        def bad(x):
            if isinstance(x, tuple):
                return tuple(bad(y) for y in x)
            return x * 1.5 + 1
        return bad(r)
    monkeypatch.setattr(loss, "_compute", wrong)


@pytest.mark.parametrize("dtype", (F32, F64), ids=lambda d: d.name)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_checking_passes_correct_kernels(name, backend, dtype):
    loss, case = pl.get(name), case_of(name)
    for extra in case.option_sets:
        arrays, opts = make(name, np.random.default_rng(30), (33,), dtype, extra)
        with pl.checking():
            for red in reductions_of(loss, case):
                for op in ops_of(loss):
                    call(loss, op, arrays, opts, red, backend)


@pytest.mark.parametrize("name", NAMES)
def test_checking_catches_a_wrong_backend(name, monkeypatch):
    loss = pl.get(name)
    arrays, opts = make(name, np.random.default_rng(31), (7, 5), F32)
    _break(monkeypatch, loss)
    for backend in [b for b in BACKENDS if b != "numpy"]:
        call(loss, "value", arrays, opts, "mean", backend)      # checking off: no error
        for op in ops_of(loss):
            with pl.checking(rtol=1e-4, atol=1e-6):
                with pytest.raises(pl.CheckError) as ei:
                    call(loss, op, arrays, opts, "mean", backend)
            msg = str(ei.value)
            for part in (name, backend, "float32"):
                assert part in msg, (part, msg)
            assert any(str(a.shape) in msg for a in arrays), ("shape", msg)
        call(loss, "value", arrays, opts, "mean", backend)      # and off again after the block


def test_checking_rejects_bad_tolerances():
    with pytest.raises(pl.PylossValueError):
        with pl.checking(rtol=-1):
            pass


def test_pyloss_check_environment_variable():
    code = """
        import numpy as np
        import pyloss as pl
        a = np.linspace(-1, 1, 12).reshape(3, 4)
        b = np.zeros((3, 4))
        # C (or, without it, every backend): numba's JIT start-up is not what this tests
        backends = ["c"] if "c" in pl.backends() else list(pl.backends()[:-1])
        for backend in backends + ["numpy"]:
            pl.huber.value_and_grad(a, b, backend=backend)     # correct kernels pass
        real = pl.huber._compute
        def wrong(c, backend, *args, **kw):
            r = real(c, backend, *args, **kw)
            return r if backend == "numpy" else r * 2 + 1
        pl.huber._compute = wrong
        for backend in backends:
            try:
                pl.huber(a, b, backend=backend)
            except pl.CheckError as e:
                print("CheckError:", e)
            else:
                print("no error")
    """
    out = run_python(code, {"PYLOSS_CHECK": "1"})
    lines = out.strip().splitlines()
    assert lines and all(ln.startswith("CheckError:") for ln in lines), out
    for ln, backend in zip(lines, ["c"] if "c" in BACKENDS else BACKENDS[:-1]):
        assert "huber" in ln and backend in ln and "float64" in ln and "(3, 4)" in ln, ln
    out = run_python(code, {"PYLOSS_CHECK": "0"})
    assert all(ln == "no error" for ln in out.strip().splitlines()), out


@pytest.mark.parametrize("off", ["c", "numba", "c,numba"])
def test_pyloss_disable_turns_backends_off(off):
    """PYLOSS_DISABLE=c,numba: the backends leave pl.backends(), say why, and
    backend="auto" falls to what is left with the same answer."""
    code = ("import numpy as np, pyloss as pl\n"
            "b = pl.backends(); v = pl.backends(verbose=True)\n"
            "print(','.join(b)); print(v)\n"
            "print(repr(float(pl.huber(np.arange(5.0), np.ones(5)))))\n")
    # the very pyloss this process tests (installed or in place)
    here = os.path.dirname(os.path.dirname(os.path.abspath(pl.__file__)))
    env = dict(os.environ, PYLOSS_DISABLE=off, PYTHONPATH=here)
    env.pop("PYLOSS_CHECK", None)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=120, cwd=os.path.dirname(here))
    assert r.returncode == 0, r.stderr
    names, verbose, value = r.stdout.splitlines()
    for b in off.split(","):
        assert b not in names.split(",")
        if b in BACKENDS:
            assert f"'{b}': 'disabled by PYLOSS_DISABLE'" in verbose
    assert names.endswith("numpy")
    assert float(value) == float(pl.huber(np.arange(5.0), np.ones(5), backend="numpy"))


def _run_isa(value):
    """(returncode, stdout, stderr) of a fresh interpreter with PYLOSS_ISA=value
    calling the C backend (auto) and printing the body in use."""
    code = ("import numpy as np, pyloss as pl\n"
            "from pyloss import _c\n"
            "v = pl.mse(np.arange(5.0), np.ones(5))\n"
            "print(pl.backends()[0], _c.isa(), repr(float(v)))\n")
    env = dict(os.environ, PYLOSS_ISA=value, PYTHONPATH=PKG_PARENT)
    env.pop("PYLOSS_CHECK", None)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=120, cwd=os.path.dirname(PKG_PARENT))
    return r.returncode, r.stdout, r.stderr


@pytest.mark.skipif("c" not in BACKENDS, reason="needs the C extension")
def test_pyloss_isa_picks_the_body_or_says_why_not():
    """PYLOSS_ISA=baseline runs the baseline body (same value); a name that is
    no level, or a level this CPU or build cannot run, is an error at the first
    call that names PYLOSS_ISA, never a silent fall back to Numba."""
    from pyloss import _c
    ref = float(pl.mse(np.arange(5.0), np.ones(5), backend="numpy"))
    rc, out, err = _run_isa("baseline")
    assert rc == 0, err
    backend, isa, value = out.split()
    assert backend == "c" and isa == "baseline" and float(value) == ref, out
    rc, out, err = _run_isa("best")
    assert rc == 0 and out.split()[1] == _c.isa(), (out, err)
    rc, out, err = _run_isa("avx2")
    assert rc != 0 and "PYLOSS_ISA" in err and "'avx2'" in err and "x86-64-v3" in err, err
    best = len(_c.isa_levels()) - 1
    if best + 1 < len(_c.ISA_NAMES):   # one level above what runs here
        rc, out, err = _run_isa(_c.ISA_NAMES[best + 1])
        assert rc != 0 and "PYLOSS_ISA" in err and _c.ISA_NAMES[best + 1] in err, err
