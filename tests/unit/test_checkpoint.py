"""train/checkpoint.py: format 3 round trip, format 2 (as the trainer wrote it before) still
read, and both exported to the same model.pt metadata. A tiny untrained model, no data."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from ogn_lammps.model import build, model_file
from ogn_lammps.train import checkpoint
from ogn_lammps.train.config import load_config
from ogn_lammps.train.export import export

pytestmark = pytest.mark.unit

SYSTEM = {"system": "lj", "units": "lj", "dt": 0.005, "type_names": ["A", "B"], "masses": [1.0, 2.0], "n_atoms": 24}


def config() -> dict:
    c = load_config(None, "impulse")
    c["data"].update(dataset="data/lj/dataset.h5", k=5)
    c["model"].update(cutoff=2.5, stages=2, width=8, n_rbf=4)
    return c


def sample() -> dict:
    rng = np.random.default_rng(3)
    return {"types": torch.tensor([1] * 16 + [2] * 8), "positions": torch.from_numpy(rng.uniform(0, 6, (24, 3))),
            "velocities": torch.from_numpy(rng.normal(size=(24, 3))), "box_lengths": torch.tensor([6.0, 6.0, 6.0])}


def model_state(c: dict) -> dict:
    torch.manual_seed(0)
    facts = dict(SYSTEM, k=5, cutoff=2.5, n_types=2, dataset="data/lj/dataset.h5")
    settings = {key: value for key, value in c["model"].items() if key not in ("architecture", "cutoff")}
    return build("impulse", settings, facts).state_dict()


def format_2(c: dict) -> dict:
    """A checkpoint as the trainer wrote it up to format 2: meta repeats k, cutoff and the dataset
    of the config, architecture and settings repeat [model]."""
    meta = dict(SYSTEM, k=5, cutoff=2.5, n_types=2, dataset="data/lj/dataset.h5")
    settings = {key: value for key, value in c["model"].items() if key not in ("architecture", "cutoff")}
    return {"format": 2, "step": 40, "elapsed": 90.0, "test_loss": 0.25, "config": c, "meta": meta,
            "architecture": "impulse", "settings": settings, "final": {"drag": 0.001}, "model": model_state(c),
            "optimizer": {"state": {}, "param_groups": []}, "sample": sample()}


def test_format_3_round_trip_stores_each_fact_once(tmp_path):
    c = config()
    written = checkpoint.Checkpoint(config=c, system=dict(SYSTEM), model=model_state(c), step=40, elapsed=90.0,
                                    test_loss=0.25, final={"drag": 0.001}, sample=sample())
    checkpoint.save(tmp_path / "checkpoint.pt", written)
    raw = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert raw["format"] == 3 and "meta" not in raw and "architecture" not in raw and "settings" not in raw
    assert set(raw["system"]) == {"system", "units", "dt", "type_names", "masses", "n_atoms"}
    back = checkpoint.load(tmp_path / "checkpoint.pt")
    assert (back.step, back.elapsed, back.test_loss, back.final) == (40, 90.0, 0.25, {"drag": 0.001})
    assert back.config == c and back.system == SYSTEM
    assert back.architecture == "impulse" and back.settings["width"] == 8 and "cutoff" not in back.settings
    assert back.facts == dict(SYSTEM, k=5, cutoff=2.5, n_types=2, dataset="data/lj/dataset.h5")
    for key, value in written.model.items():
        assert torch.equal(back.model[key], value)


def test_format_2_is_read_and_exports_like_format_3(tmp_path):
    old = format_2(config())
    torch.save(old, tmp_path / "old.pt")
    back = checkpoint.load(tmp_path / "old.pt")
    assert back.format == 2 and back.facts == old["meta"] and back.settings == old["settings"]
    assert back.architecture == "impulse" and back.step == 40 and back.final == {"drag": 0.001}
    checkpoint.save(tmp_path / "new.pt", back)
    # no training domain: it would need the dataset the checkpoints name (not in a fresh clone)
    meta_old = export(tmp_path / "old.pt", tmp_path / "old_model.pt", quiet=True, domain=False)
    meta_new = export(tmp_path / "new.pt", tmp_path / "new_model.pt", quiet=True, domain=False)
    differ = {key for key in meta_old if meta_old[key] != meta_new[key]}
    assert differ <= {"created"}
    assert meta_new["k"] == 5 and meta_new["timestep"] == pytest.approx(0.025) and meta_new["cutoff"] == 2.5
    module, meta = model_file.load(tmp_path / "old_model.pt")
    assert meta["trained_steps"] == 40 and meta["settings"] == old["settings"]


@pytest.mark.parametrize("state, message", [({"format": 1}, "checkpoint format 1, expected 3 (or 2)"),
                                            ([1, 2], "checkpoint format list")])
def test_other_formats_are_named(tmp_path, state, message):
    torch.save(state, tmp_path / "c.pt")
    with pytest.raises(ValueError, match=re.escape(message)):
        checkpoint.load(tmp_path / "c.pt")


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(ValueError, match="checkpoint not found"):
        checkpoint.load(tmp_path / "none.pt")
    assert math.isnan(checkpoint.Checkpoint(config=config(), system=SYSTEM, model={}).test_loss)
