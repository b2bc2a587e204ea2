"""cffi builder (API mode) for the pyloss C kernels.

The cdef is read from the family headers that ``pyloss.h`` includes, so the C
declarations exist exactly once.  Environment switches, read at build time:

``PYLOSS_SANITIZE=1``
    build with AddressSanitizer and UndefinedBehaviorSanitizer (for CI's
    sanitizer job; run Python with the ASan runtime preloaded).
``PYLOSS_NO_OPENMP=1``
    build single-threaded C kernels even when the compiler supports OpenMP.
``PYLOSS_CFLAGS``
    extra compiler flags, appended last.
"""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ["info.c", "regression.c", "classification.c", "embedding.c",
           "generative.c", "segmentation.c", "combination.c", "glm.c", "metric.c",
           "lovasz.c", "boxes.c"]


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


def _accepts(flags):
    """Whether the C compiler compiles and links a tiny OpenMP program with flags."""
    cc = _compiler()
    if shutil.which(cc[0]) is None:
        return False
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "t.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        try:
            r = subprocess.run(cc + flags + [src, "-o", os.path.join(d, "t")],
                               capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError):
            return False
        return r.returncode == 0


def _flags():
    # -fno-trapping-math: values are unchanged (IEEE results, NaN/Inf kept; it
    # only stops GCC from preserving FP-exception *flags*, which nothing here
    # reads), but without it GCC will not if-convert the selects in branchy
    # point functions (sign, huber's |r| <= delta, exp/log range checks), so
    # those loops stayed scalar with mispredicted branches: 10-30x slower
    # (bench/RESULTS.md, "vectorisation").
    # -ffp-contract=fast: ISO C mode (-std=c11) otherwise forbids fusing a*b+c
    # into one FMA, which doubled the latency and the uop count of every
    # polynomial in exp/log (15-25% of the transcendental kernels' time); the
    # fused form rounds once, so it is at least as accurate.  The AVX-512 and
    # AVX2 clones therefore differ from the baseline clone in the last bit.
    cflags = ["-std=c11", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter",
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
    return cflags, ldflags


CFLAGS, LDFLAGS = _flags()

ffibuilder = FFI()
ffibuilder.cdef(_cdef() + "\nextern const char PL_BUILD_FLAGS[];\n")
ffibuilder.set_source(
    "pyloss._pyloss_c",
    '#include "pyloss.h"\nconst char PL_BUILD_FLAGS[] = "%s";\n' % " ".join(CFLAGS),
    sources=[os.path.relpath(os.path.join(HERE, s)) for s in SOURCES],
    include_dirs=[os.path.relpath(HERE)],
    extra_compile_args=CFLAGS,
    extra_link_args=LDFLAGS,
)

if __name__ == "__main__":
    # Developer build in place: python csrc/build.py  (from the repository root)
    os.chdir(os.path.dirname(HERE))
    sys.exit(0 if ffibuilder.compile(verbose=False) else 1)
