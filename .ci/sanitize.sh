#!/usr/bin/env bash
# Sanitizer job.
#
#   1. C kernels built with AddressSanitizer + UndefinedBehaviorSanitizer
#      (PYLOSS_SANITIZE=1, see csrc/build.py) in a scratch copy of the tree, and
#      the test suite run against them with the ASan runtime preloaded into the
#      (uninstrumented) Python interpreter.  Any ASan/UBSan report fails the job.
#   2. The same suite once more with NUMBA_BOUNDSCHECK=1 (no sanitizer sees
#      JIT-compiled code), with a throw-away Numba cache so that bounds-checked
#      kernels never land in the normal cache.
#   Step 1 runs with PYLOSS_DISABLE=numba (ASan cannot see JIT code, so
#   compiling the Numba kernels there would only cost time) and step 2 with
#   PYLOSS_DISABLE=c (the C kernels were covered by step 1), without the C
#   extension and without the ASan runtime (under ASan's allocator every
#   Numba compile is a third slower), and with PYLOSS_NUMBA_SERIAL=1: the
#   prange kernels compiled serially, the same index expressions checked in
#   about half the compile time.  The NumPy reference runs in both, as the
#   oracle.
#
# Usage: .ci/sanitize.sh [pytest args...]   (default: -m "not slow" tests)
# Environment: PYTHON (default python3), CC (default gcc), KEEP_SANITIZE_DIR=1.
# Runs from anywhere; never touches the build in the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
CC=${CC:-gcc}
export CC
if [ $# -eq 0 ]; then
    set -- -m "not slow" tests
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyloss-sanitize.XXXXXX")
if [ "${KEEP_SANITIZE_DIR:-0}" != 1 ]; then
    trap 'rm -rf "$WORK"' EXIT
fi
echo "sanitize: scratch copy in $WORK"

# Scratch copy: tracked and untracked-but-not-ignored files (no build outputs).
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$WORK"
cd "$WORK"

# SANITIZE_STEPS picks the steps ("1 2" by default; "2" alone needs no ASan
# build), e.g. to rerun the one that failed.
STEPS=" ${SANITIZE_STEPS:-1 2} "
want() { [[ "$STEPS" == *" $1 "* ]]; }
if want 1; then   # step 2 runs without the ASan runtime
ASAN_LIB=$("$CC" -print-file-name=libasan.so)
UBSAN_LIB=$("$CC" -print-file-name=libubsan.so)
for lib in "$ASAN_LIB" "$UBSAN_LIB"; do
    if [ ! -e "$lib" ]; then
        echo "sanitize: $lib not found (is the compiler's sanitizer runtime installed?)" >&2
        exit 1
    fi
done
fi

if want 1; then
echo "sanitize: building the C extension with ASan + UBSan"
PYLOSS_SANITIZE=1 "$PY" csrc/build.py

env LD_PRELOAD="$ASAN_LIB:$UBSAN_LIB" ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 "$PY" - <<'EOF'
import sys
sys.path.insert(0, ".")
from pyloss._c import ffi, lib
flags = ffi.string(lib.PL_BUILD_FLAGS).decode()
assert "-fsanitize=address,undefined" in flags, flags
print("sanitize: build flags:", flags)
EOF
fi

LOGS="$WORK/sanitizer-logs"
mkdir -p "$LOGS"
NUMBA_CACHE_ASAN=$(mktemp -d "$WORK/numba-cache.XXXXXX")
NUMBA_CACHE_BOUNDS=$(mktemp -d "$WORK/numba-cache.XXXXXX")

report() {
    # Every sanitizer report is written to $LOGS/<tool>.<pid>; an empty
    # directory means a clean run, whatever pytest made of the crash.
    if compgen -G "$LOGS/*" > /dev/null; then
        echo "sanitize: sanitizer reports:" >&2
        for f in "$LOGS"/*; do echo "==== $f" >&2; cat "$f" >&2; done
        return 1
    fi
}

scan() {
    # Reports that reached stderr (UBSan in ASan-combined mode ignores log_path).
    if grep -E -q "runtime error:|ERROR: AddressSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer" "$1"; then
        echo "sanitize: sanitizer report in the test output:" >&2
        grep -E -B2 -A12 "runtime error:|ERROR: AddressSanitizer" "$1" | head -80 >&2
        return 1
    fi
}

if want 1; then
# Canary: a deliberate 1-element overread through the raw kernel must be
# reported, or the sanitizer is not really watching and a clean run proves nothing.
CANARY="$WORK/canary-logs"
mkdir -p "$CANARY"
if env LD_PRELOAD="$ASAN_LIB:$UBSAN_LIB" \
    ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:log_path=$CANARY/asan" \
    "$PY" -c '
import sys; sys.path.insert(0, ".")
import numpy as np
from pyloss._c import ffi, lib, ptr
a = np.ones(8); b = np.zeros(8)
lib.pl_mse_f64(9, ptr(a), ptr(b), ffi.NULL, ffi.NULL, 0.0, 0.0, 1.0, ffi.NULL, ffi.NULL, ffi.NULL, 1)
' 2>/dev/null; then
    echo "sanitize: canary overread was NOT caught: ASan is not active" >&2
    exit 1
fi
if ! grep -q "heap-buffer-overflow" "$CANARY"/asan.* 2>/dev/null; then
    echo "sanitize: canary died without an ASan heap-buffer-overflow report" >&2
    cat "$CANARY"/* >&2 || true
    exit 1
fi
echo "sanitize: canary overread caught (ASan is active)"

echo "sanitize: step 1/2 -- pytest with the ASan runtime preloaded"
status=0
# -p no:xdist: one process (tests/conftest.py would start one pytest-xdist
# worker per CPU, each with its own ASan shadow memory).
# detect_leaks=0: CPython keeps interned objects alive at exit by design.
# allocator_may_return_null=1: tests that ask for absurd sizes get MemoryError,
# not an ASan abort.  halt_on_error / -fno-sanitize-recover: the first report
# stops the process (the log file still says what happened).
env LD_PRELOAD="$ASAN_LIB:$UBSAN_LIB" \
    ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0:verify_asan_link_order=0:log_path=$LOGS/asan" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$LOGS/ubsan" \
    NUMBA_CACHE_DIR="$NUMBA_CACHE_ASAN" \
    PYLOSS_SANITIZED=1 PYLOSS_DISABLE=numba \
    "$PY" -m pytest -p no:cacheprovider -p no:xdist -q --capture=sys "$@" 2>&1 | tee "$WORK/step1.log" || status=$?
scan "$WORK/step1.log" || status=1
report || status=1
if [ $status -ne 0 ]; then
    echo "sanitize: step 1 FAILED (pytest status $status)" >&2
    exit 1
fi
echo "sanitize: step 1 clean: no ASan/UBSan report"
fi

if want 2; then
status=0
echo "sanitize: step 2/2 -- pytest with NUMBA_BOUNDSCHECK=1"
# No C extension here: step 1's ASan build needs the ASan runtime preloaded.
rm -f pyloss/_pyloss_c.*
unset PYLOSS_REQUIRE_C
export NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR="$NUMBA_CACHE_BOUNDS" PYLOSS_NUMBA_SERIAL=1
# Canary: a pyloss Numba kernel handed a target one element short must raise
# IndexError, or bounds checking is not in force.
"$PY" -c '
import sys; sys.path.insert(0, ".")
import numpy as np
from pyloss._numba import regression as R
try:
    e = np.empty(0)   # no weight, no per-element loss, no grad, no hess (want = 0)
    R.mse_ser(np.ones(9), np.ones(8), e, None, 0.0, 0.0, 1.0, e, e, e, 0)
except IndexError:
    print("sanitize: Numba canary out-of-bounds read caught (bounds checking is on)")
else:
    sys.exit("sanitize: Numba canary out-of-bounds read NOT caught")
'
env PYLOSS_SANITIZED=1 PYLOSS_DISABLE=c \
    "$PY" -m pytest -p no:cacheprovider -p no:xdist -q --capture=sys "$@" 2>&1 | tee "$WORK/step2.log" || status=$?
scan "$WORK/step2.log" || status=1
report || status=1
if [ $status -ne 0 ]; then
    echo "sanitize: step 2 FAILED (pytest status $status)" >&2
    exit 1
fi
echo "sanitize: step 2 clean: Numba kernels in bounds"
fi
echo "sanitize: OK (steps:$STEPS)"
