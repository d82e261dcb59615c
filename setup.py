"""Builds the Python module with Debian's pybind11 (python3-pybind11) for `pip install .`; the
CMake build (python/CMakeLists.txt) builds the same module for the tests. Portable code: no
-march=native here."""
import glob
import os

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

ParallelCompile("RATIOMATCH_BUILD_JOBS", default=os.cpu_count() or 1).install()

eigen = next((d for d in ("/usr/include/eigen3", "/usr/local/include/eigen3") if os.path.isdir(d)), None)
if eigen is None:
    raise SystemExit("Eigen 3 headers not found (Debian: apt-get install libeigen3-dev)")

core = Pybind11Extension(
    "ratiomatch._core",
    sorted(glob.glob("python/src/*.cpp")),
    include_dirs=["include", eigen],
    cxx_std=20,
    extra_compile_args=["-O2", "-fopenmp"],
    extra_link_args=["-fopenmp"],
    libraries=["z"],
)

setup(ext_modules=[core], cmdclass={"build_ext": build_ext})
