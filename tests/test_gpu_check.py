"""scripts/gpu_check.{sh,py}: the parts that run without a GPU and without the carried LAMMPS
(the whole script is checked by its dry run, docs/fix_ogn.md "On a GPU")."""

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.unit


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deck_for_the_gpu_replicates_and_names_the_device_and_the_shipped_model():
    text = gpu_check().deck("sio2", Path("/x/start.data"), integrator="ogn", device="cuda", rep=14, pair="zero",
                            runs=(2, 20))
    assert "replicate 14 14 14" in text and "device cuda" in text
    model = next(line for line in text.splitlines() if line.startswith("fix ogn")).split()[4]
    assert Path(model).is_file() and model.endswith("sio2_fast.pt")
    assert text.strip().splitlines()[-2:] == ["run 2", "run 20"]
    vv = gpu_check().deck("sio2", Path("/x/start.data"), integrator="verlet")
    assert "fix nve all nve" in vv and "forcefields/sio2.in" in vv and "fix ogn" not in vv


def test_the_script_refuses_a_device_run_outside_the_device_tool_and_unknown_commands():
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    proc = subprocess.run(["bash", "scripts/gpu_check.sh", "device"], cwd=REPO, env=env, capture_output=True,
                          text=True)
    assert proc.returncode != 0 and "OUT" in proc.stderr
    proc = subprocess.run(["bash", "scripts/gpu_check.sh", "nonsense"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr
