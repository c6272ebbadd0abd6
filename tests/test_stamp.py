"""scripts/test.sh sets up .venv again (and so rebuilds the fix ogn plugin) when the hash of
scripts/stamp.sh changes. These run the real scripts in a copy of the repository, with a
stand-in for .venv/bin/python and for the setup, so that they take a second."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.unit

PLUGIN_FILES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "lammps_plugin").rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the stamp reads, with a setup that only counts its runs and a python
    that does nothing, and .venv marked as set up for the copy as it is."""
    copy = tmp_path / "repo"
    copy.mkdir()
    for name in ("pyproject.toml", "CMakeLists.txt"):
        shutil.copy(ROOT / name, copy / name)
    for name in ("lammps_plugin", "python"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "scripts").mkdir()
    for name in ("stamp.sh", "test.sh"):
        shutil.copy(ROOT / "scripts" / name, copy / "scripts" / name)
    (copy / "scripts" / "setup.sh").write_text(
        "cd \"$(dirname \"$0\")/..\"; echo run >> setup_runs; bash scripts/stamp.sh > .venv/.ogn-lammps-setup\n")
    python = copy / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nexit 0\n")
    python.chmod(0o755)
    (copy / ".venv" / ".ogn-lammps-setup").write_text(stamp(copy))
    return copy


def stamp(repo: Path) -> str:
    return subprocess.run(["bash", str(repo / "scripts" / "stamp.sh")], capture_output=True, text=True,
                          check=True).stdout


def setups_after_test_sh(repo: Path) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    subprocess.run(["bash", str(repo / "scripts" / "test.sh")], cwd=repo, env=env, check=True,
                   capture_output=True)
    runs = repo / "setup_runs"
    return len(runs.read_text().split()) if runs.exists() else 0


def test_unchanged_sources_need_no_setup(repo):
    assert setups_after_test_sh(repo) == 0


def test_editing_the_simd_pair_loop_rebuilds_the_plugin(repo):
    """impulse_pairs.inc is #included, not compiled: the stamp once missed it."""
    with open(repo / "lammps_plugin" / "impulse_pairs.inc", "a") as f:
        f.write("// edited\n")
    assert setups_after_test_sh(repo) == 1
    assert setups_after_test_sh(repo) == 1    # set up once, then the stamp matches again


@pytest.mark.parametrize("name", PLUGIN_FILES)
def test_every_plugin_file_is_in_the_stamp(repo, name):
    before = stamp(repo)
    with open(repo / name, "a") as f:
        f.write("\n")
    assert stamp(repo) != before, f"{name} is not covered by scripts/stamp.sh"


def test_a_new_python_module_refreshes_the_editable_install(repo):
    """The editable install maps module names to files when it is made."""
    (repo / "python" / "ogn_lammps" / "new_module.py").write_text("")
    assert setups_after_test_sh(repo) == 1


def test_the_plugin_sources_are_all_in_lammps_plugin():
    """Every source CMakeLists.txt compiles lies under lammps_plugin/, where the stamp looks."""
    cmake = (ROOT / "CMakeLists.txt").read_text()
    sources = [word for word in cmake.replace("(", " ").replace(")", " ").split()
               if word.endswith((".cpp", ".cu"))]
    assert "lammps_plugin/fix_ogn.cpp" in sources
    for source in sources:
        assert source in PLUGIN_FILES, source
