#!/usr/bin/env bash
# Packaging checks (run by .ci/run inside its venv; cheap, about a minute or two):
#   1. python -m build --sdist; the sdist installed into a fresh venv with
#      PYLOSS_REQUIRE_C=1 (its C units compiled once, at -O0: the
#      point is that the sdist carries every file the build needs, not speed),
#      then the smoke and import tests run from the unpacked sdist.
#   2. The C extension built in place with clang in a scratch copy of the tree
#      (apt-get installs clang when missing; the step is skipped, loudly, if it
#      cannot), imported, and a few tests run against it (the smoke tests
#      on both per-CPU bodies).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyloss-pkg.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SMOKE="tests/test_smoke.py tests/test_import.py"
# These checks are about the C build: the Numba kernels (compiled from scratch
# in each fresh location) are the main suite's business, so they stay off here.
export PYLOSS_DISABLE=numba

echo "packaging: sdist"
"$PY" -m pip install --quiet build
"$PY" -m build --sdist --outdir "$WORK/dist" . > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
SDIST=$(ls "$WORK"/dist/pyloss-*.tar.gz)
tar -xzf "$SDIST" -C "$WORK"
SRC=$(ls -d "$WORK"/pyloss-*/)
python3 -m venv "$WORK/venv"
(
    . "$WORK/venv/bin/activate"
    export PYLOSS_REQUIRE_C=1 PYLOSS_CFLAGS="-O0 -DPL_NO_CLONES"
    pip install --quiet "$SDIST" pytest
    cd "$WORK"   # not the unpacked sdist: python -c would import its uninstalled pyloss/
    python -c "import pyloss as pl; assert 'site-packages' in pl.__file__, pl.__file__; assert 'c' in pl.backends(), pl.backends(verbose=True); print('packaging: sdist install ok, pyloss', pl.__version__)"
    cd "$SRC"
    pytest -p no:cacheprovider -q $SMOKE
)

echo "packaging: clang"
if ! command -v clang > /dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        (apt-get update -qq && apt-get install -y -qq clang) > "$WORK/apt.log" 2>&1 \
            || echo "packaging: clang did not install (see apt-get); skipping the clang build"
    fi
fi
if command -v clang > /dev/null; then
    mkdir "$WORK/clang"
    git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$WORK/clang"
    cd "$WORK/clang"
    CC=clang PYLOSS_REQUIRE_C=1 PYLOSS_CFLAGS="-O1 -Werror" "$PY" csrc/build.py
    "$PY" -c "
import sys; sys.path.insert(0, '.')
import pyloss as pl
from pyloss import _c
assert _c.lib is not None and pl.__file__.startswith('$WORK/clang'), (pl.__file__, _c.reason)
v = pl.backends(verbose=True)['c']
flags = _c.ffi.string(_c.lib.PL_BUILD_FLAGS).decode()
# Clang gets the same per-CPU builds as GCC (x86-64): both bodies run below
assert v == 'available' and flags.startswith('cc: clang'), (v, flags)
assert _c.lib.pl_have_clones() == ('x86_64' in '$(uname -m)'), flags
print('packaging: clang build:', v, '|', flags, '| in use:', _c.isa())
"
    "$PY" -m pytest -p no:cacheprovider -q $SMOKE
    # the baseline body too (every other test runs the AVX2 one on this CPU)
    PYLOSS_ISA=baseline "$PY" -m pytest -p no:cacheprovider -q tests/test_smoke.py
    cd "$ROOT"
else
    echo "packaging: no clang here: the clang build was NOT checked"
fi
echo "packaging: OK"
