"""Builds the C kernels through cffi (API mode).

The C extension is optional: if the compiler is missing or the build fails,
pyloss installs without it and runs on the Numba and NumPy backends
(``pl.backends(verbose=True)`` says why C is absent).  PYLOSS_NO_C=1 skips
the C build on purpose.
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    def run(self):
        try:
            super().run()
        except Exception as exc:  # compiler missing: still install
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._warn(exc)

    @staticmethod
    def _warn(exc):
        sys.stderr.write(
            "\nWARNING: the pyloss C kernels could not be built (%s).\n"
            "pyloss will use its Numba and NumPy backends.\n\n" % (exc,))


kwargs = {"cmdclass": {"build_ext": OptionalBuildExt}}
if os.environ.get("PYLOSS_NO_C") != "1":
    kwargs["cffi_modules"] = ["csrc/build.py:ffibuilder"]
setup(**kwargs)
