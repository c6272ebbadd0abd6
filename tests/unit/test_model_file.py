"""model.pt's metadata contract between model/model_file.py and fix ogn's reader
(lammps_plugin/ogn_model.cpp): the keys, the format number, a save and read round trip of a
tiny model, and the errors. No LAMMPS: the C++ side is read as text."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import pytest
import torch

from ogn_lammps.model import build, model_file

pytestmark = pytest.mark.unit

PLUGIN = Path(__file__).resolve().parents[2] / "lammps_plugin"
SYSTEM = {"system": "lj", "units": "lj", "dt": 0.005, "k": 5, "cutoff": 2.5, "type_names": ["A", "B"],
          "masses": [1.0, 1.0], "n_types": 2}


def cpp_keys(pattern: str) -> set[str]:
    return {key for path in PLUGIN.glob("*.cpp") for key in re.findall(pattern, path.read_text())}


def test_the_keys_fix_ogn_reads_are_the_keys_model_file_declares():
    read = cpp_keys(r'meta\.at\("(\w+)"\)')
    assert read == (set(model_file.REQUIRED) | set(model_file.OPTIONAL)) - {"type_names"}
    # type_names is for Python's check_compatible (and the reader): the fix checks n_types and masses
    assert "type_names" in model_file.REQUIRED
    assert cpp_keys(r'd\.(?:at|contains|value)\("(\w+)"') == set(model_file.DOMAIN_KEYS)
    assert cpp_keys(r'program\.at\("(\w+)"\)') == {"stages", "exchange", "node_input"}


def test_one_format_number_on_both_sides():
    header = (PLUGIN / "ogn_model.h").read_text()
    assert int(re.search(r"FORMAT_VERSION = (\d+);", header).group(1)) == model_file.FORMAT_VERSION


def tiny() -> torch.jit.ScriptModule:
    torch.manual_seed(0)
    model = build("impulse", {"stages": 2, "width": 8, "n_rbf": 4}, SYSTEM)
    return torch.jit.script(model.eval()), model.program()


def test_save_and_read_back(tmp_path):
    scripted, program = tiny()
    meta = model_file.metadata(SYSTEM, "impulse", program, "float64", {"calibration": {"trend": math.inf}})
    assert set(model_file.REQUIRED) <= set(meta)
    assert meta["timestep"] == pytest.approx(0.025) and meta["program"] == {"stages": 2, "exchange": [3, 9],
                                                                           "node_input": "velocities"}
    model_file.save(scripted, meta, tmp_path / "m.pt")
    module, back = model_file.load(tmp_path / "m.pt")
    assert back["calibration"] == {"trend": None}  # inf is not JSON: written as null
    assert {key: back[key] for key in model_file.REQUIRED} == {key: meta[key] for key in model_file.REQUIRED}
    assert hasattr(module, "stage") and hasattr(module, "finish")


def with_metadata(scripted, meta: dict) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer, _extra_files={"metadata.json": json.dumps(meta)})
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("change, message", [
    ({"format_version": 1}, "model format 1, expected 2"),
    ({"k": None}, None),
    ({"program": {"stages": 2, "exchange": [3], "node_input": "velocities"}}, "is not {stages: S"),
])
def test_unusable_metadata_is_named(change, message):
    scripted, program = tiny()
    meta = model_file.metadata(SYSTEM, "impulse", program, "float64", {})
    meta.update(change)
    if change == {"k": None}:
        del meta["k"]
        message = "metadata.json lacks k"
    with pytest.raises(model_file.ModelError, match=re.escape(message)):
        model_file.read(with_metadata(scripted, meta), "m.pt")


def test_check_compatible_names_both_sides():
    meta = dict(SYSTEM)
    with pytest.raises(model_file.ModelError, match="model expects units lj, dataset x has metal"):
        model_file.check_compatible(meta, "metal", 0.005, ["A", "B"], [1.0, 1.0], "dataset x")
    with pytest.raises(model_file.ModelError, match=r"model expects types \['A', 'B'\], d has \['A', 'C'\]"):
        model_file.check_compatible(meta, "lj", 0.005, ["A", "C"], [1.0, 1.0], "d")
    model_file.check_compatible(meta, "lj", 0.005, ["A", "B"], [1.0, 1.0], "d")
