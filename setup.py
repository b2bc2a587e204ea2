"""Builds the C kernels through cffi (API mode); csrc/build.py says how.

The C extension is optional: if the compiler is missing or the build fails,
pyloss installs without it, with a warning, and runs on its Numba and NumPy
backends (``pl.backends(verbose=True)`` then says why C is absent).

``PYLOSS_REQUIRE_C=1`` makes a failed C build an error instead (CI and the
wheel builds set it: a broken C build must not ship silently).
``PYLOSS_NO_C=1`` skips the C build on purpose.
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

# Written next to the package when the C build failed, read by pyloss/_c.py.
FAILED_NOTE = "_c_build_failed.txt"


class RequiredBuildFailed(RuntimeError):
    pass


class OptionalBuildExt(build_ext):
    def run(self):
        try:
            super().run()
        except Exception as exc:  # e.g. no compiler at all
            self._failed(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._failed(exc, ext)
        else:
            self._note(ext, None)

    def _note(self, ext, text):
        name = ext.name if ext is not None else "pyloss._pyloss_c"
        path = os.path.join(os.path.dirname(self.get_ext_fullpath(name)), FAILED_NOTE)
        if text is None:
            if os.path.exists(path):
                os.remove(path)
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def _failed(self, exc, ext=None):
        if isinstance(exc, RequiredBuildFailed):
            raise exc
        if os.environ.get("PYLOSS_REQUIRE_C") == "1":
            raise RequiredBuildFailed(
                "the pyloss C kernels could not be built (%s: %s), and PYLOSS_REQUIRE_C=1 "
                "makes that an error" % (type(exc).__name__, exc)) from exc
        msg = "%s: %s" % (type(exc).__name__, str(exc).strip().splitlines()[-1] if str(exc).strip() else "")
        try:
            self._note(ext, msg)
        except OSError:
            pass
        sys.stderr.write(
            "\nWARNING: the pyloss C kernels could not be built (%s).\n"
            "pyloss will use its Numba and NumPy backends; pl.backends(verbose=True) says why.\n"
            "Set PYLOSS_REQUIRE_C=1 to make this an error.\n\n" % msg)


kwargs = {"cmdclass": {"build_ext": OptionalBuildExt}}
if os.environ.get("PYLOSS_NO_C") != "1":
    kwargs["cffi_modules"] = ["csrc/build.py:ffibuilder"]
setup(**kwargs)
