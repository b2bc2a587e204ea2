"""cffi builder (API mode) for the pyloss C kernels.

The cdef is read from the family headers that ``pyloss.h`` includes, so the C
declarations exist exactly once.  Adding a C unit = appending it to SOURCES.
The units are compiled in parallel (one extension, many sources: see
``parallel_compile``), both by ``pip install .`` and by the in-place developer
build ``python csrc/build.py``.  Environment switches, read at build time:

``PYLOSS_SANITIZE=1``
    build with AddressSanitizer and UndefinedBehaviorSanitizer (for CI's
    sanitizer job; run Python with the ASan runtime preloaded).
``PYLOSS_NO_OPENMP=1``
    build single-threaded C kernels even when the compiler supports OpenMP.
``PYLOSS_AVX512=1``
    add an AVX-512 (x86-64-v4) clone next to the AVX2/FMA (x86-64-v3) and
    baseline ones (GCC on x86-64 only; off by default: it costs a third more
    compile time and was not measured to win on the machines we bench on).
``PYLOSS_BUILD_JOBS=n``
    compile n units at a time (default: the CPUs this process may use).
``PYLOSS_CFLAGS``
    extra compiler flags, appended last (``-DPL_NO_CLONES`` builds one
    portable body per kernel, no per-CPU clones).
"""
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
# One entry per C unit; the order does not matter (they compile in parallel,
# the largest first: see parallel_compile).
SOURCES = [
    "info.c",
    "regression.c",
    "classification.c",
    "binary.c",
    "embedding.c",
    "generative.c",
    "segmentation.c",
    "combination.c",
    "glm.c",
    "metric.c",
    "lovasz.c",
    "boxes.c",
]
# Flags for one unit, after the common ones (GCC and Clang; MSVC's /fp:precise
# never contracts).  boxes.c: no FMA contraction (see the note at its top).
UNIT_FLAGS = {
    "boxes.c": ["-ffp-contract=off"],
    # -O2 (with GCC's -O3 vectoriser cost model) where the bench found -O3 no
    # faster: a third less compile time for these units (docs/contributing.rst,
    # "Install time").  Not elsewhere: -O2 made elementwise losses 1.2-1.35x
    # slower, softmax rows 1.2-1.4x, and the shared body of the rare softmax
    # combinations (it relies on loop unswitching) 3-6x.
    "embedding.c": ["-O2", "-fvect-cost-model=dynamic"],
    "segmentation.c": ["-O2", "-fvect-cost-model=dynamic"],
}
_UNIT_FLAG_OK = {}


def _unit_flags(src):
    """UNIT_FLAGS of one unit that the compiler accepts (Clang has no
    -fvect-cost-model), then PYLOSS_CFLAGS again so that the user's flags
    come last and win (an -O level in PYLOSS_CFLAGS overrides a unit's)."""
    out = []
    for f in UNIT_FLAGS.get(os.path.basename(src), []):
        if f not in _UNIT_FLAG_OK:
            _UNIT_FLAG_OK[f] = _try([f], "int main(void) { return 0; }\n", link=False)[0]
        if _UNIT_FLAG_OK[f]:
            out.append(f)
    return out + (os.environ.get("PYLOSS_CFLAGS", "").split() if out else [])


def _cdef():
    top = open(os.path.join(HERE, "pyloss.h")).read()
    parts = []
    for inc in re.findall(r'^#include "([^"]+)"', top, re.M):
        text = open(os.path.join(HERE, inc)).read()
        parts.append("\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
    return "\n".join(parts)


def _compiler():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return cc.split()


def _msvc():
    """Whether setuptools will compile with MSVC (Windows without CC=...)."""
    return os.name == "nt" and not os.environ.get("CC")


def _try(flags, code, link=True):
    """(ok, stderr) of compiling (and linking) a tiny C program with flags."""
    cc = _compiler()
    if shutil.which(cc[0]) is None:
        return False, "no C compiler %r" % cc[0]
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "t.c")
        with open(src, "w") as f:
            f.write(code)
        out = ["-o", os.path.join(d, "t")] if link else ["-c", "-o", os.path.join(d, "t.o")]
        try:
            r = subprocess.run(cc + flags + ["-I", HERE, src] + out, capture_output=True,
                               timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, str(exc)
        return r.returncode == 0, r.stderr.decode(errors="replace")


def _accepts(flags):
    """Whether the C compiler compiles and links a tiny OpenMP program with flags."""
    return _try(flags, "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")[0]


_CLONE_PROBE = """#include "common.h"
#if !PL_HAVE_CLONES
#error PL_CLONES_OFF
#endif
PL_CLONES static int pl_probe(int x) { return x + 1; }
int main(void) { return pl_probe(-1); }
"""


def _clones(cflags):
    """(extra flags, note): whether the per-CPU clones of csrc/common.h are
    built, and if not, one line saying why (shown by pl.backends(verbose=True)).
    A compiler that rejects target_clones gets -DPL_NO_CLONES: one portable body."""
    base = "one portable build, no per-CPU clones"
    if _msvc():
        return [], base + ": MSVC has no target_clones"
    ok, err = _try(cflags, _CLONE_PROBE)
    if ok:
        return [], ""
    if "PL_CLONES_OFF" in err:
        if "-DPL_NO_CLONES" in cflags:
            why = "built with -DPL_NO_CLONES"
        elif os.environ.get("PYLOSS_SANITIZE") == "1":
            why = "sanitizer build"
        elif platform.machine().lower() not in ("x86_64", "amd64"):
            why = "clones are built for x86-64 only"
        else:
            why = "the compiler (%s) is not GCC, the one compiler they are built with" % _compiler()[0]
        return [], "%s: %s" % (base, why)
    if not _try(cflags, "int main(void) { return 0; }\n")[0]:
        return [], ""   # no working compiler at all: the build itself will say so
    return ["-DPL_NO_CLONES"], "%s: the compiler %s rejected target_clones" % (base, _compiler()[0])


def _flags():
    if _msvc():
        # /fp:precise is MSVC's default (no fast-math); /openmp is OpenMP 2.0,
        # enough for the parallel-for/single/reduction pragmas the kernels use.
        cflags = ["/O2", "/std:c11", "/fp:precise", "/openmp", "/DPL_NO_CLONES"]
        cflags += os.environ.get("PYLOSS_CFLAGS", "").split()
        return cflags, [], _clones(cflags)[1]
    # -fno-trapping-math: values are unchanged (IEEE results, NaN/Inf kept; it
    # only stops GCC from preserving FP-exception *flags*, which nothing here
    # reads), but without it GCC will not if-convert the selects in branchy
    # point functions (sign, huber's |r| <= delta, exp/log range checks), so
    # those loops stayed scalar with mispredicted branches: 10-30x slower
    # (bench/RESULTS.md, "vectorisation").
    # -ffp-contract=fast: ISO C mode (-std=c11) otherwise forbids fusing a*b+c
    # into one FMA, which doubled the latency and the uop count of every
    # polynomial in exp/log (15-25% of the transcendental kernels' time); the
    # fused form rounds once, so it is at least as accurate.  The AVX2 clone
    # therefore differs from the baseline clone in the last bit.
    # -g0: Python's own CFLAGS carry -g; debug info for the cloned, inlined
    # kernels costs compile time and megabytes, and no user debugs them.
    cflags = ["-std=c11", "-O3", "-g0", "-Wall", "-Wextra", "-Wno-unused-parameter",
              "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=fast", "-D_GNU_SOURCE"]
    ldflags = []
    if os.environ.get("PYLOSS_SANITIZE") == "1":
        cflags += ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                   "-fno-sanitize-recover=undefined", "-DPL_NO_CLONES"]
        ldflags += ["-fsanitize=address,undefined"]
    if os.environ.get("PYLOSS_AVX512") == "1":
        cflags.append("-DPL_CLONE_V4")
    if os.environ.get("PYLOSS_NO_OPENMP") != "1" and _accepts(["-fopenmp"]):
        cflags.append("-fopenmp")
        ldflags.append("-fopenmp")
    cflags += os.environ.get("PYLOSS_CFLAGS", "").split()
    extra, note = _clones(cflags)
    return cflags + extra, ldflags, note


def _jobs():
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, int(os.environ.get("PYLOSS_BUILD_JOBS", n)))


def parallel_compile(self, sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                     extra_preargs=None, extra_postargs=None, depends=None):
    """distutils' CCompiler.compile, with the sources compiled by a thread pool
    (each thread waits on its own compiler process).  The largest source first,
    so that the longest unit is not the last one started."""
    macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
        output_dir, macros, include_dirs, sources, depends, extra_postargs)
    cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)
    todo = [obj for obj in objects if obj in build]

    def cost(obj):
        src = build[obj][0]
        try:  # a unit's size, with the *_impl.h of the same stem it instantiates
            stem = os.path.splitext(src)[0]
            return sum(os.path.getsize(f) for f in (src, stem + "_impl.h") if os.path.exists(f))
        except OSError:
            return 0
    todo.sort(key=cost, reverse=True)

    def one(obj):
        src, ext = build[obj]
        post = list(extra_postargs or []) + _unit_flags(src)
        self._compile(obj, src, ext, cc_args, post, pp_opts)
    with ThreadPoolExecutor(min(_jobs(), max(1, len(todo)))) as pool:
        for f in [pool.submit(one, obj) for obj in todo]:
            f.result()   # re-raises the first CompileError
    return objects


def enable_parallel_compile():
    """Make distutils' generic CCompiler.compile (used by the Unix-style
    compilers: gcc, clang, mingw) compile in parallel; MSVC's class has its
    own compile and is left alone."""
    try:
        import setuptools  # noqa: F401  (puts its distutils first)
        from distutils.ccompiler import CCompiler
    except ImportError:  # pragma: no cover - no setuptools: serial build
        return
    if getattr(CCompiler.compile, "__name__", "") != "parallel_compile":
        CCompiler.compile = parallel_compile


CFLAGS, LDFLAGS, NOTE = _flags()
enable_parallel_compile()

ffibuilder = FFI()
ffibuilder.cdef(_cdef() + "\nextern const char PL_BUILD_FLAGS[];\nextern const char PL_BUILD_NOTE[];\n")
ffibuilder.set_source(
    "pyloss._pyloss_c",
    '#include "pyloss.h"\nconst char PL_BUILD_FLAGS[] = "%s";\nconst char PL_BUILD_NOTE[] = "%s";\n'
    % (" ".join(CFLAGS).replace("\\", "/").replace('"', "'"), NOTE.replace('"', "'")),
    sources=[os.path.relpath(os.path.join(HERE, s)) for s in SOURCES],
    include_dirs=[os.path.relpath(HERE)],
    extra_compile_args=CFLAGS,
    extra_link_args=LDFLAGS,
)

if __name__ == "__main__":
    # Developer build in place: python csrc/build.py  (from the repository root)
    os.chdir(os.path.dirname(HERE))
    sys.exit(0 if ffibuilder.compile(verbose=False) else 1)
