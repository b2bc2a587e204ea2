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
    add an AVX-512 (x86-64-v4) build of the kernels next to the AVX2/FMA
    (x86-64-v3) and baseline ones (x86-64 only).  1.55x faster than v3 on an
    AVX-512 AMD EPYC (geometric mean over every loss, docs/contributing.rst),
    but off by default: the third build costs half the compile time again,
    which would break the two-minute install.
``PYLOSS_BUILD_JOBS=n``
    compile n units at a time (default: the CPUs this process may use).
``PYLOSS_CFLAGS``
    extra compiler flags, appended last (``-DPL_NO_CLONES`` builds one
    portable body per kernel, no per-CPU builds).

Per-CPU builds (x86-64, GCC or Clang): every kernel unit is compiled once per
CPU level (ISA_BUILDS: x86-64-v3 at -O3, the baseline at ISA_BASE_FLAGS), with
its exported names renamed by a generated header (pl_mse_f32 ->
pl_mse_f32__v3), and the cffi module defines each kernel as a call to the body
this CPU runs (csrc/isa.h picks it at load time; ``PYLOSS_ISA=baseline`` at
run time forces the baseline body, for tests).  This replaced GCC's
target_clones: the same two bodies for a sixth less compile time (a unit compiled
for one target is cheaper than two clones of every function in one pass), and
Clang gets the AVX2 body too.
"""
import functools
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
    "pool.c",
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
    -fvect-cost-model).  parallel_compile puts PYLOSS_CFLAGS again after them,
    so that the user's flags come last and win (an -O level in PYLOSS_CFLAGS
    overrides a unit's)."""
    out = []
    for f in UNIT_FLAGS.get(os.path.basename(src), []):
        if f not in _UNIT_FLAG_OK:
            _UNIT_FLAG_OK[f] = _try([f], "int main(void) { return 0; }\n", link=False)[0]
        if _UNIT_FLAG_OK[f]:
            out.append(f)
    return out


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


# The kernel units built once per CPU level, best first: (tag, level, flags).
# The level is isa.h's (pl_isa()).  -mno-*: the v3/v4 bodies use only the
# features isa.h checks (see there).
ISA_V3 = ("v3", 1, ["-march=x86-64-v3", "-mno-movbe", "-mno-lzcnt", "-mno-f16c"])
ISA_V4 = ("v4", 2, ["-march=x86-64-v4", "-mno-movbe", "-mno-lzcnt", "-mno-f16c"])
# The baseline body at -O3, not -O2: -O2 would save about 40 s of compile CPU
# but made it 2.2x slower (geometric mean over every loss's example at 10^6,
# C, 1 thread, value_and_grad, both dtypes; up to 11x), and CPUs without AVX2
# (older Atoms/Pentiums, VMs that hide AVX) still run it.
ISA_BASE_FLAGS = ["-O3"]
ISA_BASE = ("base", 0, ISA_BASE_FLAGS)
# Units compiled once whatever the CPU (they define no kernel).
SINGLE = {"info.c", "pool.c"}

_ISA_PROBE = """#include "isa.h"
int main(void) { return pl_isa_best() < 0; }
"""


def _targets_x86_64():
    """Whether the extension is built for x86-64 only: the build machine's
    architecture, unless a cross build says otherwise (cibuildwheel on macOS
    sets _PYTHON_HOST_PLATFORM and ARCHFLAGS, e.g. "-arch arm64" or a
    universal2 "-arch x86_64 -arch arm64", which one set of flags cannot serve)."""
    host = os.environ.get("_PYTHON_HOST_PLATFORM", "")
    arch = host.rsplit("-", 1)[-1] if host else platform.machine()
    archs = re.findall(r"-arch\s+(\S+)", os.environ.get("ARCHFLAGS", ""))
    return arch.lower() in ("x86_64", "amd64") and all(a == "x86_64" for a in archs)


def _isa_builds(cflags):
    """(builds, note): the per-CPU builds of the kernel units (see the module
    docstring), or [] and one line saying why there is one portable build
    (shown by pl.backends(verbose=True))."""
    base = "one portable build, no per-CPU builds"
    if _msvc():
        return [], base + ": MSVC builds one body"
    if "-DPL_NO_CLONES" in cflags:
        return [], base + ": built with -DPL_NO_CLONES"
    if os.environ.get("PYLOSS_SANITIZE") == "1":
        return [], base + ": sanitizer build"
    if not _targets_x86_64():
        return [], base + ": per-CPU builds are made for x86-64 only"
    if not _try(cflags, "int main(void) { return 0; }\n")[0]:
        return [], ""   # no working compiler at all: the build itself will say so
    builds = ([ISA_V4] if os.environ.get("PYLOSS_AVX512") == "1" else []) + [ISA_V3, ISA_BASE]
    for tag, _, flags in builds:
        ok, err = _try(cflags + ["-DPL_MULTI_ISA"] + flags, _ISA_PROBE)
        if not ok:
            last = (err.strip().splitlines() or ["?"])[-1]
            return [], "%s: the compiler %s rejected the %s build (%s)" % (
                base, _compiler()[0], tag, last)
    return builds, ""


@functools.lru_cache(maxsize=None)
def _kernel_decls():
    """(return type, name, parameters, argument names) of every kernel: the
    declarations of the family headers (pl_info.h's are info.c's, not kernels)."""
    top = open(os.path.join(HERE, "pyloss.h")).read()
    out = []
    for inc in re.findall(r'^#include "([^"]+)"', top, re.M):
        if inc == "pl_info.h":
            continue
        text = re.sub(r"/\*.*?\*/", "", open(os.path.join(HERE, inc)).read(), flags=re.S)
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([A-Za-z_][\w \t\*]*?)\s*\b(pl_\w+)\s*\((.*)\);$", line)
            if m is None:
                raise RuntimeError("csrc/%s: not a one-line kernel declaration: %r" % (inc, line))
            ret, name, params = m.groups()
            args = [] if params.strip() in ("", "void") else [
                re.search(r"(\w+)\s*$", p).group(1) for p in params.split(",")]
            out.append((ret.strip(), name, params, args))
    return out


def _rename_header(tag):
    """The header (-include) that renames a unit's exported kernels for one build."""
    return "".join("#define %s %s__%s\n" % (d[1], d[1], tag) for d in _kernel_decls())


def _dispatch_source(builds):
    """C for the cffi module: each kernel defined as a call to the per-CPU body
    that pl_isa_now (info.c) selects."""
    if not builds:
        return ""
    lines = ["/* per-CPU dispatch (csrc/build.py, _dispatch_source) */", "extern int pl_isa_now;"]
    for ret, name, params, args in _kernel_decls():
        a = ", ".join(args)
        for tag, _, _ in builds:
            lines.append("%s %s__%s(%s);" % (ret, name, tag, params))
        body = []
        for i, (tag, level, _) in enumerate(builds):
            call = "%s__%s(%s)" % (name, tag, a)
            stmt = ("return %s;" % call) if ret != "void" else ("%s; return;" % call)
            body.append(stmt if i == len(builds) - 1 else "if (pl_isa_now >= %d) { %s }" % (level, stmt))
        lines.append("%s %s(%s) { %s }" % (ret, name, params, " ".join(body)))
    return "\n".join(lines) + "\n"


def _flags():
    if _msvc():
        # /fp:precise is MSVC's default (no fast-math); /openmp is OpenMP 2.0,
        # enough for the parallel-for/single/reduction pragmas the kernels use.
        cflags = ["/O2", "/std:c11", "/fp:precise", "/openmp", "/DPL_NO_CLONES"]
        cflags += os.environ.get("PYLOSS_CFLAGS", "").split()
        return cflags, [], [], _isa_builds(cflags)[1]
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
    if os.environ.get("PYLOSS_NO_OPENMP") != "1" and _accepts(["-fopenmp"]):
        cflags.append("-fopenmp")
        ldflags.append("-fopenmp")
    cflags += os.environ.get("PYLOSS_CFLAGS", "").split()
    builds, note = _isa_builds(cflags)
    if builds:
        cflags.append("-DPL_MULTI_ISA")
        if any(b[0] == "v4" for b in builds):
            cflags.append("-DPL_ISA_V4")
    return cflags, ldflags, builds, note


def _jobs():
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, int(os.environ.get("PYLOSS_BUILD_JOBS", n)))


def parallel_compile(self, sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                     extra_preargs=None, extra_postargs=None, depends=None):
    """distutils' CCompiler.compile, with the sources compiled by a thread pool
    (each thread waits on its own compiler process), and each kernel unit
    compiled once per per-CPU build (ISA_BUILDS) into its own object.  The
    largest jobs first, so that the longest one is not the last one started."""
    macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
        output_dir, macros, include_dirs, sources, depends, extra_postargs)
    cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)
    user = os.environ.get("PYLOSS_CFLAGS", "").split()

    def cost(src):
        try:  # a unit's size, with the *_impl.h of the same stem it instantiates
            stem = os.path.splitext(src)[0]
            return sum(os.path.getsize(f) for f in (src, stem + "_impl.h") if os.path.exists(f))
        except OSError:
            return 0

    tmp = tempfile.mkdtemp(prefix="pyloss-isa-")
    jobs, out = [], []   # jobs: (cost, object, source, ext, extra flags)
    for obj in objects:
        src, ext = build.get(obj, (None, None))
        name = os.path.basename(src or "")
        if src is None:
            out.append(obj)
        elif ISA_BUILDS and name in SOURCES and name not in SINGLE:
            for tag, _, flags in ISA_BUILDS:
                header = os.path.join(tmp, "pl_isa_%s.h" % tag)
                if not os.path.exists(header):
                    with open(header, "w") as f:
                        f.write(_rename_header(tag))
                o = os.path.splitext(obj)[0] + "." + tag + self.obj_extension
                extra = flags + _unit_flags(src) + user + ["-include", header]
                jobs.append((cost(src) * (1.0 if tag == "base" else 1.2), o, src, ext, extra))
                out.append(o)
        else:
            unit = _unit_flags(src)
            jobs.append((cost(src), obj, src, ext, unit + (user if unit else [])))
            out.append(obj)
    jobs.sort(key=lambda j: j[0], reverse=True)

    def one(job):
        _, obj, src, ext, extra = job
        self.mkpath(os.path.dirname(obj))
        self._compile(obj, src, ext, cc_args, list(extra_postargs or []) + extra, pp_opts)
    try:
        with ThreadPoolExecutor(min(_jobs(), max(1, len(jobs)))) as pool:
            for f in [pool.submit(one, j) for j in jobs]:
                f.result()   # re-raises the first CompileError
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


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


CFLAGS, LDFLAGS, ISA_BUILDS, NOTE = _flags()
enable_parallel_compile()


def _flags_text():
    """PL_BUILD_FLAGS: the compiler, the common flags, then each per-CPU build's own."""
    text = "cc: %s; %s" % ("msvc" if _msvc() else " ".join(_compiler()), " ".join(CFLAGS))
    if ISA_BUILDS:
        text += "; per-CPU builds: " + ", ".join(
            "%s [%s]" % (tag, " ".join(flags)) for tag, _, flags in ISA_BUILDS)
    return text.replace("\\", "/").replace('"', "'")


ffibuilder = FFI()
ffibuilder.cdef(_cdef() + "\nextern const char PL_BUILD_FLAGS[];\nextern const char PL_BUILD_NOTE[];\n")
ffibuilder.set_source(
    "pyloss._pyloss_c",
    '#include "pyloss.h"\nconst char PL_BUILD_FLAGS[] = "%s";\nconst char PL_BUILD_NOTE[] = "%s";\n%s'
    % (_flags_text(), NOTE.replace('"', "'"), _dispatch_source(ISA_BUILDS)),
    sources=[os.path.relpath(os.path.join(HERE, s)) for s in SOURCES],
    include_dirs=[os.path.relpath(HERE)],
    extra_compile_args=CFLAGS,
    extra_link_args=LDFLAGS,
)

if __name__ == "__main__":
    # Developer build in place: python csrc/build.py  (from the repository root)
    os.chdir(os.path.dirname(HERE))
    sys.exit(0 if ffibuilder.compile(verbose=False) else 1)
