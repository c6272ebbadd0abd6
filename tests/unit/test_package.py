"""The package's own description matches what it ships."""

from __future__ import annotations

import importlib
import re

import pytest

import ogn_lammps
from ogn_lammps.environment import PACKAGE_DIR

pytestmark = pytest.mark.unit


def test_the_docstring_does_not_call_fix_ogn_future():
    """fix ogn has shipped (lammps_plugin/, models/): the package must not say it is to come."""
    doc = ogn_lammps.__doc__
    assert not re.search(r"to come|not yet|planned", doc)
    assert "fix ogn" in doc and (PACKAGE_DIR.parents[1] / "lammps_plugin" / "fix_ogn.cpp").is_file()


def test_the_docstring_names_the_subpackages_that_exist():
    doc = ogn_lammps.__doc__
    for name in re.findall(r"`(\w+)` \(", doc):
        assert importlib.import_module(f"ogn_lammps.{name}").__file__
    assert {"data", "model", "train", "judge"} <= set(re.findall(r"`(\w+)` \(", doc))
