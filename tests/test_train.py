"""python -m ogn_lammps.train, run for real on a tiny LJ dataset from the real deck."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import deck_env, run_deck, run_module, write_config


def read_log(folder):
    with open(folder / "log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def load_state(folder):
    from ogn_lammps.train import checkpoint

    return checkpoint.load(folder / "checkpoint.pt")


def test_outputs_of_a_run(trained_run):
    rows = read_log(trained_run)
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8]
    assert all(float(r["train_loss"]) > 0 for r in rows)
    assert rows[1]["test_loss"] and rows[3]["test_loss"] and not rows[0]["test_loss"]
    assert float(rows[-1]["lr"]) == pytest.approx(1e-6, rel=1e-6)  # decayed to lr_end at the planned end
    assert (trained_run / "loss.png").stat().st_size > 1000
    assert "n_layers = 2" in (trained_run / "config.toml").read_text()
    state = load_state(trained_run)
    assert state.format == 3 and state.step == 8 and state.facts["k"] == 5 and state.system["units"] == "lj"
    assert state.architecture == "ogn" and state.settings["n_layers"] == 2


@pytest.mark.parametrize("run", ["trained_run", "impulse_run"])
def test_the_resolved_config_is_toml_that_reads_back(run, request):
    """config.toml beside a run (and models/<sys>_fast.toml) is the run's config: TOML with
    booleans as true / false, read back by load_config to the checkpoint's own settings."""
    from ogn_lammps.train.config import load_config

    folder = request.getfixturevalue(run)
    folder = folder if run == "trained_run" else folder[0] / "run"
    text = (folder / "config.toml").read_text()
    if run == "impulse_run":
        assert "half_pairs = true" in text
    assert load_config(folder / "config.toml") == load_state(folder).config


@pytest.mark.slow
def test_straight_and_resumed_runs_give_identical_weights(tiny_dataset, tmp_path):
    config = write_config(tmp_path / "c.toml", tiny_dataset, steps=10, test_every=5)
    run_module("train", "--config", config, "--out", tmp_path / "straight", "--quiet")
    run_module("train", "--config", config, "--out", tmp_path / "resumed", "--quiet", "--stop-at", 5)
    half = load_state(tmp_path / "resumed")
    assert half.step == 5
    run_module("train", "--out", tmp_path / "resumed", "--resume", "--quiet")
    a, b = load_state(tmp_path / "straight"), load_state(tmp_path / "resumed")
    assert a.step == b.step == 10
    assert a.model.keys() == b.model.keys()
    for key in a.model:
        assert torch.equal(a.model[key], b.model[key]), key
    for key, value in a.optimizer["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(value[name], b.optimizer["state"][key][name])
    assert [r["step"] for r in read_log(tmp_path / "straight")] == [r["step"] for r in read_log(tmp_path / "resumed")]
    # and the halves did differ from the start: the test can tell runs apart
    assert not torch.equal(half.model["decoder_out.weight"], a.model["decoder_out.weight"])


@pytest.mark.slow
def test_training_loss_falls_100x_on_a_tiny_dataset(tmp_path_factory):
    """One training pair (5 MD steps of LJ), no augmentation: the loss must fall 100x."""
    folder = tmp_path_factory.mktemp("overfit")
    run_deck("lj", folder / "lj", seed=99, ntrain=1, ntest=1, nsteps=5, neq=200, npre=100)
    run_module("dataset", folder / "lj")
    config = write_config(folder / "c.toml", folder / "lj" / "dataset.h5", n_layers=1, steps=900,
                          lr_start=3e-3, lr_end=3e-4, augment=False, test_every=900, log_every=5, test_configs=1)
    run_module("train", "--config", config, "--out", folder / "run", "--quiet")
    losses = [float(r["train_loss"]) for r in read_log(folder / "run")]
    assert losses[0] > 0.5  # standardized targets: a fresh model is off by about one sigma
    assert losses[0] / losses[-1] >= 100, f"loss fell from {losses[0]:.3g} to {losses[-1]:.3g} only"


@pytest.mark.slow
def test_sigint_saves_a_checkpoint_and_resume_finishes(tiny_dataset, tmp_path):
    config = write_config(tmp_path / "c.toml", tiny_dataset, steps=100000, test_every=100000, log_every=1)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "ogn_lammps.train", "--config", str(config), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, env=deck_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "log.csv").exists() or len(read_log(out)) < 3:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "SIGINT" in err and "--resume" in err
    step = load_state(out).step
    assert step >= 3
    # continue it for a few more steps of the same plan
    run_module("train", "--out", out, "--resume", "--stop-at", step + 2, "--quiet")
    assert load_state(out).step == step + 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "setup, args, message",
    [
        ("none", ["--data", "{tmp}/missing.h5"], "dataset file not found"),
        ("none", ["--k", "0", "--data", "{data}"], "k must be a positive number of MD steps, got 0"),
        ("none", ["--k", "400", "--data", "{data}"], "fewer than k + 1"),
        ("bad_toml", ["--config", "{tmp}/bad.toml"], "unknown key 'stepz' in [train]"),
        ("quoted_bool", ["--config", "{tmp}/bad.toml"], "[train] augment = 'false': expected true, false or \"auto\""),
        ("checkpoint", ["--data", "{data}"], "exists: pass --resume"),
        ("none", ["--resume"], "no checkpoint"),
        ("checkpoint", ["--resume", "--steps", "5"], "--resume uses the checkpoint's own configuration"),
    ],
)
def test_bad_input_is_a_clear_error(tiny_dataset, trained_run, tmp_path, setup, args, message):
    out = tmp_path / "run"
    if setup == "bad_toml":
        (tmp_path / "bad.toml").write_text("[train]\nstepz = 4\n")
    if setup == "quoted_bool":
        (tmp_path / "bad.toml").write_text('[train]\naugment = "false"\n')
    if setup == "checkpoint":
        out.mkdir()
        (out / "checkpoint.pt").write_bytes((trained_run / "checkpoint.pt").read_bytes())
    before = (out / "checkpoint.pt").read_bytes() if setup == "checkpoint" else None
    args = [a.format(tmp=tmp_path, data=tiny_dataset) for a in args]
    proc = run_module("train", "--out", out, "--quiet", *args, check=False, timeout=180)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    if before is not None:
        assert (out / "checkpoint.pt").read_bytes() == before  # nothing lost


@pytest.mark.slow
def test_minutes_limit_stops_with_a_checkpoint(tiny_dataset, tmp_path):
    config = write_config(tmp_path / "c.toml", tiny_dataset, steps=100000, test_every=100000,
                          log_every=1, checkpoint_minutes=0.01)
    t0 = time.time()
    proc = run_module("train", "--config", config, "--out", tmp_path / "run", "--stop-after", 0.15)
    assert time.time() - t0 < 120
    assert "stopped at step" in proc.stderr
    step = load_state(tmp_path / "run").step
    assert 0 < step < 100000
    assert int(read_log(tmp_path / "run")[-1]["step"]) == step


@pytest.mark.slow
def test_time_budget_decays_the_learning_rate_over_it_and_finishes(tiny_dataset, tmp_path):
    config = write_config(tmp_path / "c.toml", tiny_dataset, steps=100000, test_every=100000, log_every=1)
    t0 = time.time()
    proc = run_module("train", "--config", config, "--out", tmp_path / "run", "--minutes", 0.1)
    assert time.time() - t0 < 120
    assert "finished at step" in proc.stderr
    rows = read_log(tmp_path / "run")
    lrs = [float(r["lr"]) for r in rows]
    assert lrs == sorted(lrs, reverse=True) and len(lrs) > 3
    # 1e-4 -> 1e-6 over the 6 s budget, whatever the number of steps it allowed
    assert lrs[0] > 0.5e-4 and lrs[-1] < 2e-6
    assert "minutes = 0.1" in (tmp_path / "run" / "config.toml").read_text()


def test_pushforward_pairs_start_from_the_models_own_prediction(tiny_dataset, tmp_path):
    """[train] pushforward: the input is frame t advanced by the model itself, the target is
    frame t + 2k minus that state; rebuilt here from the dataset file and the step definition."""
    import numpy as np

    from conftest import impulse_config
    from ogn_lammps.model.step import model_inputs
    from ogn_lammps.data.dataset import Dataset
    from ogn_lammps.model.graph import box_lengths
    from ogn_lammps.train.config import load_config
    from ogn_lammps.train.loop import Trainer

    config = load_config(impulse_config(tmp_path / "c.toml", tiny_dataset, pushforward=1.0))
    trainer = Trainer(config, tmp_path / "run", resume=False)
    pairs = trainer.train_pairs
    k = pairs.k_frames
    with Dataset(tiny_dataset) as ds:
        first = ds.trajectory("train", ds.trajectories("train")[0])
        x, v = np.asarray(first["positions"]), np.asarray(first["velocities"])
        types, lengths = np.asarray(ds.types), box_lengths(ds.box)
    assert pairs.index[3] == (0, 3)
    inputs = model_inputs(types, x[3], v[3], lengths, trainer.meta["cutoff"])
    with torch.no_grad():
        change = trainer.model(*inputs).double().numpy()
    x1, v1 = x[3] + change[:, :3], v[3] + change[:, 3:]
    assert np.abs(change[:, 3:]).max() > 0  # the model does move the state: the test can tell
    s = trainer.pushed_sample(3, 0)
    np.testing.assert_allclose(s.targets.numpy(), np.concatenate([x[3 + 2 * k] - x1, v[3 + 2 * k] - v1], 1),
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(s.velocities.numpy(), v1, rtol=0, atol=1e-6)
    assert s.edge_index.shape[1] == len(s.edge_vectors) > 0
    dist = np.linalg.norm(s.edge_vectors.numpy(), axis=1)
    assert dist.max() <= trainer.meta["cutoff"]
    # a pair whose trajectory ends before t + 2k stays a one-step pair
    last = max(i for i, (t, f) in enumerate(pairs.index) if t == 0)
    plain, kept = pairs.sample(last), trainer.pushed_sample(last, 0)
    assert torch.equal(plain.targets, kept.targets)
    # and training on them runs
    assert np.isfinite(trainer.train_step(0))


@pytest.mark.slow
def test_pushforward_out_of_range_is_a_clear_error(tiny_dataset, tmp_path):
    from conftest import impulse_config

    config = impulse_config(tmp_path / "c.toml", tiny_dataset, pushforward=1.5)
    proc = run_module("train", "--config", config, "--out", tmp_path / "run", "--quiet", check=False, timeout=180)
    assert proc.returncode == 2, proc.stderr
    assert "[train] pushforward = 1.5: expected a fraction from 0 to 1" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "train, args, message",
    [
        (dict(lr_start=0.0), [], "[train] lr_start = 0.0: must be > 0"),
        (dict(lr_start=-1e-3), [], "[train] lr_start = -0.001: must be > 0"),
        (dict(batch_size=0), [], "[train] batch_size = 0: must be >= 1"),
        (dict(minutes=-5), [], "[train] minutes = -5: must be >= 0"),
        ({}, ["--minutes", "0"], "--minutes 0: must be > 0 (omit it to train for [train] steps)"),
        ({}, ["--minutes", "-2"], "--minutes -2: must be > 0"),
    ],
)
def test_values_that_would_train_silently_wrong_are_refused_by_name(tiny_dataset, tmp_path, train, args, message):
    config = write_config(tmp_path / "c.toml", tiny_dataset, **train)
    proc = run_module("train", "--config", config, "--out", tmp_path / "run", "--quiet", *args, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()


def test_resuming_a_finished_run_does_nothing_unless_asked(trained_run, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(trained_run, out)
    before = (out / "checkpoint.pt").read_bytes()
    proc = run_module("train", "--out", out, "--resume", "--quiet")
    assert "is finished (step 8 of 8" in proc.stderr and "nothing to do" in proc.stderr, proc.stderr
    assert (out / "checkpoint.pt").read_bytes() == before


@pytest.mark.slow
def test_a_signal_stops_the_calibration_at_once_and_resume_calibrates(tiny_dataset, tmp_path):
    from conftest import impulse_config
    from ogn_lammps.train import checkpoint

    # a calibration of long rollouts (many seconds) after 2 training steps
    config = impulse_config(tmp_path / "c.toml", tiny_dataset, steps=2, test_every=2, log_every=1,
                            model=dict(calibration_inferences=4000, calibration_starts=8))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "ogn_lammps.train", "--config", str(config), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, env=deck_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.time() + 300
    while time.time() < deadline:
        line = proc.stderr.readline()
        assert line or proc.poll() is None, "".join(lines)
        lines.append(line)
        if "end-of-training calibration" in line:
            break
    time.sleep(1.0)  # inside the calibration's rollouts
    assert proc.poll() is None, "".join(lines) + proc.stderr.read()
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    waited = time.monotonic() - sent
    assert proc.returncode == 128 + signal.SIGTERM, err
    # the calibration used to go on for over a minute; signal to exit (the interpreter's
    # teardown included) took 1.2 s here with the test suite running beside it
    assert waited < 5, f"the calibration went on for {waited:.1f} s after SIGTERM"
    assert "SIGTERM during the end-of-training calibration" in err and "--resume" in err, err
    state = checkpoint.load(out / "checkpoint.pt")
    assert state.step == 2 and not state.finalized and not (out / "final.json").exists()
    # --resume runs only the calibration (a short one, asked for), then the run is done
    done = run_module("train", "--out", out, "--resume", "--quiet", "--calibration-inferences", 3)
    assert "end-of-training calibration" in done.stderr and (out / "final.json").exists(), done.stderr
    assert "one rollout calibration took" in done.stderr and "min at most" in done.stderr, done.stderr
    assert checkpoint.load(out / "checkpoint.pt").finalized
    again = run_module("train", "--out", out, "--resume", "--quiet")
    assert "nothing to do" in again.stderr, again.stderr


def test_progress_under_a_time_budget_shows_the_minutes_left(tiny_dataset, tmp_path):
    # 10^7 planned steps, as in the shipped configs: a step ETA would read hundreds of hours
    config = write_config(tmp_path / "c.toml", tiny_dataset, steps=10_000_000, test_every=100000)
    proc = run_module("train", "--config", config, "--out", tmp_path / "run", "--minutes", 0.05)
    lines = [line for line in proc.stderr.replace("\r", "\n").splitlines() if "of the time budget" in line]
    assert lines, proc.stderr[-2000:]
    assert "/3 s of the time budget" in lines[-1] and "min left, step " in lines[-1], lines[-1]
