"""python -m ogn_lammps.loss_vs_k: real short trainings at two strides on the tiny dataset."""

from __future__ import annotations

import json

import pytest

from conftest import impulse_config, run_module


@pytest.mark.slow
def test_loss_against_k_trains_each_stride_once_and_plots(tiny_dataset, tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    impulse_config(configs / "lj_fast.toml", tiny_dataset, steps=60, test_every=30, lr_start=1e-2)
    out = tmp_path / "out"
    proc = run_module("loss_vs_k", "--systems", "lj", "--k", "1", "5", "--minutes", "0.5", "--out", out,
                      "--configs", configs)
    summary = json.loads((out / "summary.json").read_text())
    runs = {r["k"]: r for r in summary["runs"]}
    assert sorted(runs) == [1, 5]
    for k, r in runs.items():
        # a trained model beats free flight (loss 1) on the one-step change at this k
        assert 0 < r["test_loss"] < 1, r
        assert r["steps"] == 60
        assert f"lj        k = {k:3d}: test loss" in proc.stdout
    # each run trained with its own k: the checkpoints' configs differ only there
    for k in (1, 5):
        assert f"k = {k}\n" in (out / f"lj_k{k}" / "config.toml").read_text()
    assert (out / "loss_vs_k.png").stat().st_size > 1000
    # a second call reuses the finished runs instead of training again
    stamp = (out / "lj_k5" / "checkpoint.pt").stat().st_mtime
    again = run_module("loss_vs_k", "--systems", "lj", "--k", "5", "--minutes", "0.5", "--out", out,
                       "--configs", configs)
    assert "train" not in again.stderr.replace("loss_vs_k", "")
    assert (out / "lj_k5" / "checkpoint.pt").stat().st_mtime == stamp


def test_loss_against_k_refuses_bad_arguments(tmp_path):
    bad = run_module("loss_vs_k", "--k", "0", "--out", tmp_path, check=False)
    assert bad.returncode == 2 and "--k must be positive MD step counts, got [0]" in bad.stderr
    missing = run_module("loss_vs_k", "--systems", "lj", "--k", "5", "--out", tmp_path, "--configs", tmp_path / "none",
                         check=False)
    assert missing.returncode == 2 and "lj_fast.toml: no configuration for lj" in missing.stderr
