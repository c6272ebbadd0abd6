"""The structured OGN (architecture "impulse"): its properties by construction, its training
hooks, and the same model run by fix ogn on 1, 2 and 4 MPI ranks."""

from __future__ import annotations

import copy
import csv
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from conftest import impulse_config, lmp, run_module
from ogn_lammps.model import model_file
from ogn_lammps.model import build
from ogn_lammps.model.impulse import PairImpulseOGN
from ogn_lammps.model.step import model_inputs
from ogn_lammps.data.dataset import Dataset
from ogn_lammps.model.graph import box_lengths
from ogn_lammps.judge.rollout import load_model
from ogn_lammps.model.step import rollout
from ogn_lammps.train.calibration import rollout_trend
from ogn_lammps.train.objectives import objective
from ogn_lammps.train.pairs import Sample
from test_fix_ogn import frames, run_ogn, spacing

SYSTEM = {"n_types": 2, "masses": [1.0, 1.0], "dt": 0.005, "k": 5, "cutoff": 2.5}


@pytest.fixture(scope="module")
def frame(tiny_dataset):
    with Dataset(tiny_dataset) as ds:
        x, v = ds.frame("train", "train_00", 10)
        x1, v1 = ds.frame("train", "train_00", 15)
        return dict(types=ds.types.copy(), x=x, v=v, x1=x1, v1=v1, lengths=box_lengths(ds.box),
                    masses=np.asarray(ds.masses, dtype=float))


@pytest.fixture(scope="module", params=[(0, False, 2, False), (3, False, 2, False), (3, True, 2, False),
                                        (3, True, 3, False), (3, True, 3, True)],
                ids=["pairs", "moments", "end_moments", "rank3", "invariants"])
def model(frame, request):
    """An untrained model with weights large enough that every term matters; unequal masses;
    without and with angular moments (3 radial channels), with the moments of the predicted
    end geometry in the later stages, and with rank-3 moments as well."""
    torch.manual_seed(3)
    moments, end, rank, invariants = request.param
    m = build("impulse", {"stages": 3, "width": 32, "n_rbf": 8, "moments": moments, "end_moments": end,
                          "moment_rank": rank, "moment_invariants": invariants},
              dict(SYSTEM, masses=[1.0, 2.5]))
    with torch.no_grad():
        m.r_min.fill_(0.7)
        m.mom_scale.fill_(4.0)
        m.v_scale.fill_(2.0)
        m.p_scale.fill_(0.3)
        m.q_scale.fill_(0.01)
        m.drag.fill_(0.01)
        for mlp in m.mlps:
            mlp[4].weight.normal_(0.0, 0.5)
            mlp[4].bias.normal_(0.0, 0.5)
    return m.eval()


def cast(model, dtype):
    """A copy in `dtype`: casting in place would round the float64 buffers (tau, 1/m) for later tests."""
    return copy.deepcopy(model).to(dtype)


def run(model, frame, x=None, v=None, dtype=torch.float32):
    inputs = model_inputs(frame["types"], frame["x"] if x is None else x, frame["v"] if v is None else v,
                          frame["lengths"], model.cutoff.item())
    with torch.no_grad():
        return cast(model, dtype)(*inputs).double().numpy()


# --- by construction -------------------------------------------------------------------------


def test_momentum_is_conserved_to_rounding(model, frame):
    out = run(model, frame)
    m = np.array([1.0, 2.5])[frame["types"] - 1][:, None]
    impulses = m * out[:, 3:]
    assert np.abs(impulses).sum() > 1.0  # atoms do get kicked
    assert np.abs(impulses.sum(0)).max() <= 1e-6 * np.abs(impulses).sum()
    # and the centre of mass moves by tau P / M exactly (the kinematic prior and q_ij are antisymmetric too)
    tau = 5 * 0.005
    assert np.allclose((m * out[:, :3]).sum(0), tau * (m * frame["v"]).sum(0), atol=1e-5 * np.abs(m * out[:, :3]).sum())


def random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.parametrize("seed", [0, 1])
def test_a_random_rotation_of_the_input_rotates_the_output(model, frame, seed):
    rot = random_rotation(seed)
    inputs = model_inputs(frame["types"], frame["x"], frame["v"], frame["lengths"], 2.5)
    rotated = (inputs[0], inputs[1] @ torch.as_tensor(rot.T), inputs[2], inputs[3] @ torch.as_tensor(rot.T))
    with torch.no_grad():
        model = cast(model, torch.float32)
        a = model(*inputs).double().numpy()
        b = model(*rotated).double().numpy()
    expected = np.concatenate([a[:, :3] @ rot.T, a[:, 3:] @ rot.T], 1)
    scale = np.abs(a).max(0)
    assert np.all(scale > 0)
    # float32: 1e-5 of each output's scale
    assert np.abs(b - expected).max(0).max() <= 1e-5 * scale.max() * 10, np.abs(b - expected).max(0) / scale
    assert (np.abs(b - expected).max(0) / scale).max() <= 1e-5
    assert np.abs(b - a).max() > 1e-2 * scale.max()  # the rotation did change the output


def test_reflection_translation_permutation_and_boost(model, frame):
    base = run(model, frame, dtype=torch.float64)
    flip = np.diag([-1.0, 1.0, 1.0])
    inputs = model_inputs(frame["types"], frame["x"], frame["v"], frame["lengths"], 2.5)
    with torch.no_grad():
        reflected = cast(model, torch.float64)(inputs[0], inputs[1] @ torch.as_tensor(flip), inputs[2],
                                   inputs[3] @ torch.as_tensor(flip)).numpy()
    np.testing.assert_allclose(reflected, np.concatenate([base[:, :3] @ flip, base[:, 3:] @ flip], 1), atol=1e-10)
    shifted = run(model, frame, x=frame["x"] + np.array([0.3, -1.7, 2.2]), dtype=torch.float64)
    np.testing.assert_allclose(shifted, base, atol=1e-10)
    # a Galilean boost changes only the free flight: dv is the same, dr gains tau * c
    c = np.array([0.5, -0.25, 1.0])
    boosted = run(model, frame, v=frame["v"] + c, dtype=torch.float64)
    np.testing.assert_allclose(boosted[:, 3:], base[:, 3:], atol=1e-10)
    np.testing.assert_allclose(boosted[:, :3], base[:, :3] + 5 * 0.005 * c, atol=1e-10)
    # permutation within each type (types stay with their atoms)
    perm = np.random.default_rng(0).permutation(len(frame["x"]))
    permuted_frame = dict(frame, types=frame["types"][perm])
    permuted = run(model, permuted_frame, x=frame["x"][perm], v=frame["v"][perm], dtype=torch.float64)
    np.testing.assert_allclose(permuted, base[perm], atol=1e-10)


def test_half_pairs_and_stages_compute_the_same_function(model, frame):
    inputs = model_inputs(frame["types"], frame["x"], frame["v"], frame["lengths"], 2.5)
    model = cast(model, torch.float64)
    with torch.no_grad():
        # every ordered pair evaluated: the sum the impulses define
        moments = model._full_moments(len(inputs[0]), inputs[2], inputs[3])
        assert moments.shape == (len(inputs[0]), (10 if model.mom_rank == 2 else 20) * model.n_mom)
        full = model._run(inputs[0], inputs[1], inputs[2], inputs[3], False, moments, inputs[2], inputs[3])
        # forward(), as exported: each unordered pair once
        exported = model(*inputs)
        edge_index, vectors, half = model.half_graph(inputs[2], inputs[3])
        assert half and edge_index.shape[1] * 2 == inputs[2].shape[1]
        halved = model._run(inputs[0], inputs[1], edge_index, vectors, True, moments, inputs[2], inputs[3])
        nodes, edges = inputs[1], torch.zeros(0)
        program = model.program()
        # a moments stage first; with end moments one before each later pair stage
        assert program["stages"] == 3 + (model.n_mom > 0) + 2 * model.end_mom
        for index in range(program["stages"]):
            assert nodes.shape[1] == program["exchange"][index]
            nodes, edges = model.stage(index, inputs[0], nodes, edges, inputs[2], inputs[3])
    torch.testing.assert_close(halved, full, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(exported, full, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(model.finish(nodes), exported, rtol=0, atol=0)


def test_radial_basis_matches_the_gaussians_far_from_their_centres(model):
    """The exponent is clamped at -60 (float32 exp is ~100x slower below about -87): the
    Gaussians still equal exp(-z^2) to 1e-25, also where they underflow."""
    d = torch.linspace(0.3, 2.5, 200, dtype=torch.float64)
    rbf = model._rbf(d)
    lo, hi, n = float(model.r_min), float(model.cutoff), model.n_rbf
    step = (hi - lo) / (n - 1)
    exact = torch.exp(-((d.unsqueeze(1) - (lo + step * torch.arange(n, dtype=torch.float64))) / step) ** 2)
    assert float(exact.min()) < 1e-30    # the clamp is reached
    torch.testing.assert_close(rbf, exact, rtol=0, atol=1e-25)


def test_edges_to_an_atoms_own_images_cancel(model):
    """A box shorter than the cutoff: atom i sees its own images at +r and -r. forward()
    drops those edges (their impulses cancel); the full-graph sum must agree."""
    rng = np.random.default_rng(3)
    n, length = 12, 2.4    # the cutoff 2.5 is longer than the box
    x = rng.uniform(0, length, (n, 3))
    v = rng.normal(0, 1.7, (n, 3))
    types = np.where(np.arange(n) < 9, 1, 2)
    inputs = model_inputs(types, x, v, np.full(3, length), 2.5)
    assert bool((inputs[2][0] == inputs[2][1]).any())
    model = cast(model, torch.float64)
    with torch.no_grad():
        moments = model._full_moments(n, inputs[2], inputs[3])
        full = model._run(inputs[0], inputs[1], inputs[2], inputs[3], False, moments, inputs[2], inputs[3])
        torch.testing.assert_close(model(*inputs), full, rtol=1e-10, atol=1e-10)


def test_angular_moments_of_a_known_neighbourhood():
    """One radial channel (the envelope alone): atom 0 with neighbours at +x and +y, 1.0 away,
    has M0 = 2 g, M1 = g (1, 1, 0), M2 = g diag(1, 1, 0), g = (1 - (1 / 2.5)^2)^2."""
    m = build("impulse", {"stages": 1, "width": 4, "n_rbf": 2, "moments": 1}, SYSTEM).double()
    x = np.array([[10.0, 10.0, 10.0], [11.0, 10.0, 10.0], [10.0, 11.0, 10.0]])
    inputs = model_inputs(np.array([1, 1, 2]), x, np.zeros((3, 3)), np.full(3, 20.0), 2.5)
    with torch.no_grad():
        m.mom_scale.fill_(2.0)
        moments = m.angular_moments(3, inputs[2], inputs[3]).numpy()
    g = (1 - 0.16) ** 2 / 2.0
    # [M0, M2 (xx, yy, zz, xy, xz, yz), M1 (x, y, z)]
    np.testing.assert_allclose(moments[0], [2 * g, g, g, 0, 0, 0, 0, g, g, 0], atol=1e-12)
    # atom 1 sees atom 0 along -x and atom 2 along (-1, 1, 0) / sqrt(2), sqrt(2) away
    g2 = (1 - 2 / 6.25) ** 2 / 2.0
    np.testing.assert_allclose(moments[1], [g + g2, g + g2 / 2, g2 / 2, 0, -g2 / 2, 0, 0,
                                            -g - g2 / 2 ** 0.5, g2 / 2 ** 0.5, 0], atol=1e-12)


def test_rank_3_moments_of_a_known_neighbourhood():
    """Rank 3 appends M3 = sum_j g u u u after [M0, M2, M1]: atom 0 with neighbours at +x and
    +y has M3 xxx = yyy = g and no other component; the first ten columns are rank 2's."""
    m2 = build("impulse", {"stages": 1, "width": 4, "n_rbf": 2, "moments": 1}, SYSTEM).double()
    m3 = build("impulse", {"stages": 1, "width": 4, "n_rbf": 2, "moments": 1, "moment_rank": 3}, SYSTEM).double()
    x = np.array([[10.0, 10.0, 10.0], [11.0, 10.0, 10.0], [10.0, 11.0, 10.0]])
    inputs = model_inputs(np.array([1, 1, 2]), x, np.zeros((3, 3)), np.full(3, 20.0), 2.5)
    with torch.no_grad():
        a = m2.angular_moments(3, inputs[2], inputs[3]).numpy()
        b = m3.angular_moments(3, inputs[2], inputs[3]).numpy()
    assert b.shape == (3, 20)
    np.testing.assert_allclose(b[:, :10], a, atol=1e-12)
    g = (1 - 0.16) ** 2
    # (xxx, yyy, zzz, xxy, xxz, xyy, yyz, xzz, yzz, xyz)
    np.testing.assert_allclose(b[0, 10:], [g, g, 0, 0, 0, 0, 0, 0, 0, 0], atol=1e-12)
    # atom 2 sees atom 0 along -y and atom 1 along (1, -1, 0) / sqrt(2)
    g2 = (1 - 2 / 6.25) ** 2
    h = g2 / 2 ** 1.5
    np.testing.assert_allclose(b[2, 10:], [h, -g - h, 0, -h, 0, h, 0, 0, 0, 0], atol=1e-12)
    # the full invariants of atom 0: |M1|^2 = M2 : M2 = M3 : M3 = 2 g^2; a pair (0, 0) sees their
    # sums and products
    m3.config.moment_invariants = True
    m3.mom_inv = 1
    norms = m3._norm_features(torch.as_tensor(b), torch.tensor([0]), torch.tensor([0])).numpy()
    np.testing.assert_allclose(norms[0], [4 * g * g] * 3 + [4 * g ** 4] * 3, rtol=1e-12)
    with pytest.raises(ValueError, match="moment_rank = 4, expected 2 or 3"):
        build("impulse", {"moments": 1, "moment_rank": 4}, SYSTEM)


def test_each_stage_matters(model, frame):
    """The corrector stages change the prediction: they are not dead weight."""
    inputs = model_inputs(frame["types"], frame["x"], frame["v"], frame["lengths"], 2.5)
    model = cast(model, torch.float64)
    with torch.no_grad():
        nodes = inputs[1]
        outputs = []
        for index in range(model.program()["stages"]):
            nodes, _ = model.stage(index, inputs[0], nodes, torch.zeros(0), inputs[2], inputs[3])
            if nodes.shape[1] == 9 + (10 if model.mom_rank == 2 else 20) * model.n_mom:    # a pair stage
                outputs.append(nodes[:, 3:9].clone())
    assert len(outputs) == 3
    for a, b in zip(outputs, outputs[1:]):
        assert float((a - b).abs().max()) > 1e-3 * float(a.abs().max())


def test_flops_per_pair_match_torch_flop_counter(model, frame):
    inputs = model_inputs(frame["types"], frame["x"], frame["v"], frame["lengths"], 2.5)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        cast(model, torch.float32)(*inputs)
    # each unordered pair once: the graph holds every pair in both directions
    per_pair = counter.get_total_flops() / (inputs[2].shape[1] / 2)
    assert per_pair == model.flops_per_pair()
    # three stages: first (8 rbf + 2 + 3 pair types -> 32 -> 32 -> 4), two later (8+8+6+3 -> 32 -> 32 -> 8);
    # C moment channels add 6 C inputs and 4 C outputs to each (8 C and 6 C at rank 3; the moment
    # sums are not MLP work), the end moments as many again to the later stages
    i, o = (6, 4) if model.mom_rank == 2 else (8, 6)
    i += 2 * (2 if model.mom_rank == 2 else 3) * model.mom_inv    # the sums and products of the norms
    c, ce = model.n_mom, model.n_mom * model.end_mom
    assert model.flops_per_pair() == (2 * ((13 + i * c) * 32 + 32 * 32 + 32 * (4 + o * c))
                                      + 2 * 2 * ((25 + i * c + i * ce) * 32 + 32 * 32 + 32 * (8 + o * c + o * ce)))


# --- training hooks --------------------------------------------------------------------------


def sample(frame) -> Sample:
    inputs = model_inputs(frame["types"], frame["x"], frame["v"], frame["lengths"], 2.5)
    targets = torch.as_tensor(np.concatenate([frame["x1"] - frame["x"], frame["v1"] - frame["v"]], 1))
    return Sample(*inputs, targets)


def test_calibration_cancels_the_temperature_bias(frame):
    torch.manual_seed(0)
    m = build("impulse", {"stages": 2, "width": 16, "n_rbf": 8}, SYSTEM)
    objective(m, SYSTEM).prepare(m, [sample(frame)])
    result = objective(m, SYSTEM).finalize(m, [sample(frame)])
    assert abs(result["temperature_bias_before"]) > 1e-3  # an untrained model is biased
    assert abs(result["temperature_bias"]) < 0.05 * abs(result["temperature_bias_before"])
    assert result["drag"] == pytest.approx(float(m.drag))


def test_temperature_target_is_the_rollouts_mean_kinetic_energy_over_the_datas(frame):
    """The "temperature" calibration target, recomputed with the rollout module's own loop from
    the masses and velocities: mean over inferences 1..n and over starts of sum m v^2 / reference."""
    torch.manual_seed(1)
    m = build("impulse", {"stages": 2, "width": 16, "n_rbf": 8, "calibration_inferences": 4,
                          "calibration_target": "temperature"}, dict(SYSTEM, masses=[1.0, 2.5]))
    with torch.no_grad():
        m.drag.fill_(0.05)  # far from calibrated: the target is well away from zero
    m.eval()
    masses = np.array([1.0, 2.5])[frame["types"] - 1][:, None]
    starts = [{"types": frame["types"], "positions": x, "velocities": v, "lengths": frame["lengths"],
               "reference_ke": float((masses * v1 ** 2).sum())}
              for x, v, v1 in ((frame["x"], frame["v"], frame["v1"]), (frame["x1"], frame["v1"], frame["v"]))]
    expected = []
    for start in starts:
        _, vs, _, failure = rollout(m, {"cutoff": 2.5, "k": 5}, start["types"], np.arange(len(start["types"])) + 1,
                                    start["positions"], start["velocities"], start["lengths"], 4, progress=False)
        assert failure is None
        expected.append(np.mean([(masses * v ** 2).sum() for v in vs[1:]]) / start["reference_ke"] - 1)
    measured = rollout_trend(m, starts, k=5)
    assert abs(np.mean(expected)) > 0.01
    assert measured == pytest.approx(float(np.mean(expected)), rel=1e-6)


def test_calibration_starts_must_be_positive():
    with pytest.raises(ValueError, match="calibration_starts = 0, expected >= 1"):
        build("impulse", {"calibration_starts": 0}, SYSTEM)


def test_training_reports_and_corrects_the_bias(impulse_run):
    folder, proc = impulse_run
    assert "temperature_bias_before" in proc.stderr and "drag" in proc.stderr
    assert re.search(r"rollout calibration 1/10: drag \S+, trend \S+ \(\d+ starts x \d+ inferences\)", proc.stderr)
    _, meta = load_model(folder / "model.pt")
    assert meta["architecture"] == "impulse"
    assert meta["program"] == {"stages": 3, "exchange": [3, 9, 9], "node_input": "velocities"}
    calibration = meta["calibration"]
    assert set(calibration) == {"temperature_bias_before", "drag_one_step", "rollout_trend_before", "rollout_trend",
                                "drag", "temperature_bias"}
    # the rollout calibration never ends worse than it started
    assert abs(calibration["rollout_trend"]) <= abs(calibration["rollout_trend_before"])
    assert meta["flops_per_atom"] > 0


@pytest.mark.slow
def test_training_loss_falls_5x(tiny_dataset, tmp_path):
    """150 steps over the 52 tiny training pairs: the structured model must learn (loss / 5)."""
    config = impulse_config(tmp_path / "c.toml", tiny_dataset, steps=150, test_every=150, batch_size=1,
                            lr_start=1e-2, lr_end=1e-3, log_every=10)
    run_module("train", "--config", config, "--out", tmp_path / "run", "--quiet")
    with open(tmp_path / "run" / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    first, last = float(rows[0]["train_loss"]), float(rows[-1]["train_loss"])
    assert last < first / 5, (first, last)


def test_checkpoints_are_loaded_without_running_pickled_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "checkpoint.pt"
    torch.save({"format": 2, "payload": Evil()}, bad)
    proc = run_module("export", bad, "-o", tmp_path / "model.pt", check=False)
    assert proc.returncode == 2 and "not a readable training checkpoint" in proc.stderr
    assert not marker.exists()
    proc = run_module("train", "--out", tmp_path, "--resume", check=False)
    assert proc.returncode == 2 and "not a readable training checkpoint" in proc.stderr
    assert not marker.exists()


@pytest.mark.slow
def test_unknown_architecture_is_named(tiny_dataset, tmp_path):
    config = impulse_config(tmp_path / "c.toml", tiny_dataset, model={"architecture": "transformer"})
    proc = run_module("train", "--config", config, "--out", tmp_path / "run", check=False)
    assert proc.returncode == 2
    assert "architecture = 'transformer', expected one of ['impulse', 'ogn']" in proc.stderr
    config = impulse_config(tmp_path / "d.toml", tiny_dataset, model={"n_layers": 2})
    proc = run_module("train", "--config", config, "--out", tmp_path / "run", check=False)
    assert proc.returncode == 2 and "unknown key 'n_layers' in [model] for architecture 'impulse'" in proc.stderr


# --- fix ogn runs it -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def impulse_serial(impulse_run, tiny_lj, tmp_path_factory):
    out = tmp_path_factory.mktemp("impulse_fix") / "serial"
    proc = run_ogn(out, impulse_run[0] / "model.pt", tiny_lj / "equilibrated.data")
    (out / "stdout.txt").write_text(proc.stdout)
    return out


CHECKED = re.compile(r"fix ogn: fused kernel checked against the model's forward\(\) on the first inference: "
                     r"largest difference (\S+) \(dr\) and (\S+) \(dv\) of the largest change")


def momentum_drift(run_frames) -> float:
    """max |P(t) - P(0)| / sum |m v| (LJ masses are 1)."""
    p0 = run_frames[0].velocities.sum(0)
    scale = np.abs(run_frames[0].velocities).sum()
    return max(float(np.abs(f.velocities.sum(0) - p0).max()) for f in run_frames) / scale


def test_fix_matches_the_python_rollout(impulse_run, impulse_serial):
    # on a CPU the fix runs the fused kernel, which it checked against the TorchScript forward()
    stdout = (impulse_serial / "stdout.txt").read_text()
    assert "in float32, 1 MPI rank(s), fused CPU kernel" in stdout
    assert all(float(x) <= 1e-5 for x in CHECKED.search(stdout).groups())
    fix = frames(impulse_serial)
    model, meta = load_model(impulse_run[0] / "model.pt")
    first = fix[0]
    xs, vs, _, failure = rollout(model, meta, first.types, first.ids, first.positions, first.velocities,
                                 first.box[:, 1] - first.box[:, 0], 1, progress=False)
    assert failure is None
    for fix_now, py_now, before in ((fix[1].positions, xs[1], first.positions),
                                    (fix[1].velocities, vs[1], first.velocities)):
        change = py_now - before
        assert np.abs((fix_now - before) - change).max() <= 1e-5 * np.abs(change).max()
    assert momentum_drift(fix) < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("ranks, grid, newton", [(2, "* * *", "on"), (4, "2 2 1", "on"), (2, "* * *", "off"),
                                                 (4, "2 2 1", "off")])
def test_mpi_ranks_agree_and_conserve_momentum(impulse_run, impulse_serial, tiny_lj, tmp_path, ranks, grid, newton):
    """Newton on: a pair with another rank's atom is computed once and the other atom's share
    is sent back; off: both ranks compute it and keep their own atom's share."""
    out = tmp_path / "mpi"
    proc = run_ogn(out, impulse_run[0] / "model.pt", tiny_lj / "equilibrated.data", mpi=ranks, procs=grid,
                   newton=newton)
    assert re.search(rf"fused CPU kernel, 1 thread\(s\), \w+, newton {newton}\n", proc.stdout), proc.stdout
    one, many = frames(impulse_serial), frames(out)
    assert len(one) == len(many) == 21
    # float32 rounding (1e-7), grown by the chaos of 100 MD steps
    assert np.abs(one[-1].positions - many[-1].positions).max() <= 1e-4 * spacing(one[-1])
    assert np.abs(one[-1].velocities - many[-1].velocities).max() <= 1e-4 * np.abs(one[-1].velocities).max()
    assert np.abs(one[-1].positions - one[0].positions).max() > 1e-2 * spacing(one[-1])
    assert momentum_drift(many) < 1e-6


@pytest.mark.slow
def test_float64_model_in_the_fix_matches_the_python_rollout(impulse_run, tiny_lj, tmp_path):
    model64 = tmp_path / "model64.pt"
    run_module("export", impulse_run[0] / "run" / "checkpoint.pt", "-o", model64, "--dtype", "float64")
    out = tmp_path / "fix64"
    proc = run_ogn(out, model64, tiny_lj / "equilibrated.data", ninf=2)
    assert "in float64, 1 MPI rank(s), TorchScript forward()" in proc.stdout
    fix = frames(out)
    model, meta = load_model(model64)
    first = fix[0]
    xs, vs, _, _ = rollout(model, meta, first.types, first.ids, first.positions, first.velocities,
                           first.box[:, 1] - first.box[:, 0], 1, progress=False)
    change = vs[1] - first.velocities
    # the dump prints %.12g: double rounding shows up as 1e-11 of the values
    assert np.abs(fix[1].velocities - vs[1]).max() <= 1e-9 * np.abs(change).max()
    assert np.abs(fix[1].positions - xs[1]).max() <= 1e-10 * np.abs(xs[1]).max()


# --- the fused kernel of fix ogn -------------------------------------------------------------


def odd_model(trained: Path, cls=PairImpulseOGN, stages: int = 2, width: int = 13, n_rbf: int = 5,
              moments: int = 0, end_moments: bool = False, moment_rank: int = 2,
              moment_invariants: bool = False) -> torch.nn.Module:
    """A model of the trained one's system and scales with a width and basis that are not
    multiples of the kernel's 8 lanes, and strong random outputs so that every term matters."""
    scripted, meta = load_model(trained)
    system = dict(n_types=meta["n_types"], masses=meta["masses"], dt=meta["dt"], k=meta["k"], cutoff=meta["cutoff"])
    torch.manual_seed(5)
    model = cls(cls.Config(n_types=meta["n_types"], stages=stages, width=width, n_rbf=n_rbf, moments=moments,
                           end_moments=end_moments, moment_rank=moment_rank,
                           moment_invariants=moment_invariants),
                masses=system["masses"], tau=system["k"] * system["dt"], cutoff=system["cutoff"])
    with torch.no_grad():
        model.mom_scale.fill_(10.0)    # about each channel's neighbour count in the LJ liquid at r_c = 2.5
        for name in ("r_min", "v_scale", "p_scale", "q_scale"):
            getattr(model, name).copy_(getattr(scripted, name))
        model.drag.fill_(0.02)
        for mlp in model.mlps:
            mlp[4].weight.normal_(0.0, 0.3)
            mlp[4].bias.normal_(0.0, 0.3)
    return model.float().eval()


def save_like(model: torch.nn.Module, trained: Path, path: Path) -> Path:
    """`model` as a model.pt with the contract (metadata.json) of the trained model."""
    meta = load_model(trained)[1]
    model_file.save(torch.jit.script(model), dict(meta, program=model.program()), path)
    return path


@pytest.mark.parametrize("moments", [0, 3], ids=["pairs", "rank 3 and invariants"])
@pytest.mark.parametrize("isa", ["best", "avx2"])
def test_fused_kernel_matches_torchscript_for_any_width(impulse_run, tiny_lj, tmp_path, monkeypatch, isa, moments):
    """Both instruction sets of the pair loop (AVX-512 where the CPU has it, and AVX2), for a
    model of pair features only and for one with every moment term: rank-3 moments and their
    invariants at the start and at the predicted end (3 channels: not a multiple of anything)."""
    if isa == "avx2":
        monkeypatch.setenv("OGN_KERNEL_ISA", "avx2")
    trained = impulse_run[0] / "model.pt"
    model = save_like(odd_model(trained, moments=moments, end_moments=moments > 0, moment_rank=3 if moments else 2,
                                moment_invariants=moments > 0), trained, tmp_path / "odd.pt")
    runs = {}
    for kernel in ("fused", "torch"):
        proc = run_ogn(tmp_path / kernel, model, tiny_lj / "equilibrated.data", ninf=4, kernel=kernel)
        if kernel == "fused":
            assert re.search(r"fused CPU kernel, 1 thread\(s\), (avx2|avx512)", proc.stdout)
            assert isa != "avx2" or "1 thread(s), avx2" in proc.stdout
        else:
            assert "TorchScript forward()" in proc.stdout
        runs[kernel] = frames(tmp_path / kernel)
    fused, plain = runs["fused"], runs["torch"]
    before = plain[0]
    for attr in ("positions", "velocities"):
        change = getattr(plain[1], attr) - getattr(before, attr)
        error = np.abs(getattr(fused[1], attr) - getattr(plain[1], attr)).max()
        assert error <= 1e-5 * np.abs(change).max(), (attr, error / np.abs(change).max())
    # four inferences later: float32 rounding, slightly grown
    assert np.abs(fused[-1].positions - plain[-1].positions).max() <= 1e-4 * spacing(before)
    # the comparison can fail: the model moves the atoms far more than that
    assert np.abs(plain[-1].positions - before.positions).max() > 1e-2 * spacing(before)


class OtherEnvelope(PairImpulseOGN):
    """Not the function the fused kernel computes: (1 - x^2)^3 instead of (1 - x^2)^2."""

    def _envelope(self, d: torch.Tensor) -> torch.Tensor:
        x = torch.clamp(d / self.cutoff.to(d.dtype), max=1.0)
        return (1.0 - x * x) ** 3


def test_fix_stops_when_the_fused_kernel_is_not_the_models_function(impulse_run, tiny_lj, tmp_path):
    trained = impulse_run[0] / "model.pt"
    model = save_like(odd_model(trained, OtherEnvelope), trained, tmp_path / "other.pt")
    proc = run_ogn(tmp_path / "auto", model, tiny_lj / "equilibrated.data", ninf=2, check=False)
    assert proc.returncode != 0
    found = re.search(r"ERROR: fix ogn: the fused kernel and the TorchScript forward\(\) of model \S+ differ by "
                      r"(\S+) \(dr\) and (\S+) \(dv\) of the largest change on the first inference, expected below "
                      r"1e-04; run with kernel torch", proc.stdout)
    assert found and max(float(x) for x in found.groups()) > 1e-3, proc.stdout[-2000:]
    # with the TorchScript forward() it runs
    ok = run_ogn(tmp_path / "torch", model, tiny_lj / "equilibrated.data", ninf=2, kernel="torch")
    assert "fix ogn: 2 inferences" in ok.stdout


def short_box(like: Path, path: Path, length: float, n: int = 12) -> Path:
    """A LAMMPS data file of the LJ mixture with n atoms in a cubic box of `length` (shorter
    than the cutoff: every atom sees its own images), atoms at least 0.8 apart."""
    rng = np.random.default_rng(11)
    x = []
    while len(x) < n:
        trial = rng.uniform(0, length, 3)
        if all(np.linalg.norm((trial - y) - length * np.rint((trial - y) / length)) > 0.8 for y in x):
            x.append(trial)
    v = rng.normal(0.0, 1.5, (n, 3))
    head = like.read_text().split("Atoms")[0].splitlines()
    lines = [line for line in head if not any(key in line for key in ("atoms", "xlo", "ylo", "zlo"))]
    text = [lines[0], "", f"{n} atoms"] + lines[1:3] + [f"0 {length} {a}lo {a}hi" for a in "xyz"] + lines[3:]
    text += ["Atoms # atomic", ""] + [f"{i + 1} {1 + (i % 4 == 0)} {p[0]} {p[1]} {p[2]}" for i, p in enumerate(x)]
    text += ["", "Velocities", ""] + [f"{i + 1} {w[0]} {w[1]} {w[2]}" for i, w in enumerate(v)]
    path.write_text("\n".join(text) + "\n")
    return path


@pytest.mark.parametrize("rank", [2, 3], ids=["rank 2", "rank 3 and invariants"])
@pytest.mark.parametrize("end", [False, True], ids=["start", "end moments"])
@pytest.mark.parametrize("box", ["box", "short box"])
def test_fused_kernel_computes_the_angular_moments(impulse_run, tiny_lj, tmp_path, box, end, rank):
    """A model with angular moments (2 channels; and with those of the predicted end geometry
    in its later stage; of rank 2, or of rank 3 with the atoms' invariants of them) in the fused
    kernel against its TorchScript forward(); in a box shorter than the cutoff an atom's own
    images count in its moments."""
    trained = impulse_run[0] / "model.pt"
    kind = dict(moment_rank=rank, moment_invariants=rank == 3)
    model = save_like(odd_model(trained, moments=2, end_moments=end, **kind), trained, tmp_path / "moments.pt")
    data = tiny_lj / "equilibrated.data"
    if box == "short box":
        data = short_box(data, tmp_path / "short.data", 2.4)
    runs = {}
    for kernel in ("fused", "torch"):
        proc = run_ogn(tmp_path / kernel, model, data, ninf=2, kernel=kernel)
        assert ("fused CPU kernel" if kernel == "fused" else "TorchScript forward()") in proc.stdout
        if kernel == "fused":
            assert all(float(x) <= 1e-5 for x in CHECKED.search(proc.stdout).groups())
            per_atom = float(re.search(r"(\d+) bytes per atom", proc.stdout).group(1))
        runs[kernel] = frames(tmp_path / kernel)
    fused, plain = runs["fused"], runs["torch"]
    for attr in ("positions", "velocities"):
        change = getattr(plain[1], attr) - getattr(plain[0], attr)
        assert np.abs(change).max() > 0
        error = np.abs(getattr(fused[1], attr) - getattr(plain[1], attr)).max()
        assert error <= 1e-5 * np.abs(change).max(), (attr, error / np.abs(change).max())
    # the moments matter: the same model with them switched off (zero scale -> huge moments
    # aside, here: a model without moments) moves the atoms differently
    without = save_like(odd_model(trained, moments=0), trained, tmp_path / "none.pt")
    plain_proc = run_ogn(tmp_path / "none", without, data, ninf=2, kernel="fused")
    # the reported memory counts the moments (10 C doubles of sums and 10 C floats; C = 2;
    # more at rank 3) on top of what the same model without them holds
    per_atom_without = float(re.search(r"(\d+) bytes per atom", plain_proc.stdout).group(1))
    assert per_atom - per_atom_without >= 20 * 8 + 20 * 4, (per_atom, per_atom_without)
    assert np.abs(frames(tmp_path / "none")[1].velocities - plain[1].velocities).max() > 1e-2 * np.abs(
        plain[1].velocities - plain[0].velocities).max()
    if end:    # and the end moments hold 10 C more floats per atom than the start's alone
        start_only = save_like(odd_model(trained, moments=2, **kind), trained, tmp_path / "start.pt")
        start_proc = run_ogn(tmp_path / "start", start_only, data, ninf=2, kernel="fused")
        per_atom_start = float(re.search(r"(\d+) bytes per atom", start_proc.stdout).group(1))
        assert per_atom - per_atom_start >= 20 * 4, (per_atom, per_atom_start)


def benchmark_report_pattern() -> str:
    """The regular expression with which benchmarks/fix_ogn.py reads the fix's timing line."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "fix_ogn.py"
    spec = importlib.util.spec_from_file_location("benchmark_fix_ogn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FIX_REPORT


def moments_in_a_larger_box(impulse_run, tiny_lj, tmp_path) -> tuple[Path, Path]:
    """The trained model with start and end moments (C = 2), and the tiny LJ box replicated
    3 x 3 x 3 (7 155 atoms): enough pairs and rows for every thread to get a share."""
    trained = impulse_run[0] / "model.pt"
    model = save_like(odd_model(trained, moments=2, end_moments=True), trained, tmp_path / "moments.pt")
    data = tmp_path / "x27.data"
    deck = tmp_path / "replicate.in"
    deck.write_text(f"units lj\natom_style atomic\nread_data {tiny_lj / 'equilibrated.data'}\n"
                    f"replicate 3 3 3\nwrite_data {data}\n")
    lmp(deck, tmp_path)
    return model, data


def test_fused_kernel_sums_the_angular_moments_on_two_threads(impulse_run, tiny_lj, tmp_path):
    """The moments, and those of the predicted end geometry, summed by two threads (each
    over its chunks of the pairs, into a table of its own) in a box with enough pairs for both
    to work: the first inference agrees with TorchScript, and 4 inferences with one thread.
    Four threads on this machine's two cores wait for a core in turn, and the others take
    their chunks (Chunks in impulse_kernel.h): a chunk lost or summed twice would show."""
    model, data = moments_in_a_larger_box(impulse_run, tiny_lj, tmp_path)
    runs = {}
    for threads in (1, 2, 4):
        proc = run_ogn(tmp_path / f"t{threads}", model, data, ninf=4, kernel="fused", threads=threads)
        assert f"fused CPU kernel, {threads} thread(s)" in proc.stdout
        assert all(float(x) <= 1e-5 for x in CHECKED.search(proc.stdout).groups())
        edges = float(re.search(r"(\d+) edges on the busiest rank", proc.stdout).group(1))
        assert edges / 2 >= threads * 4096, edges    # each thread gets a share of the unordered pairs
        runs[threads] = frames(tmp_path / f"t{threads}")
    one = runs[1]
    assert np.abs(one[-1].positions - one[0].positions).max() > 1e-2 * spacing(one[-1])
    for threads in (2, 4):    # the same sums in another order: float32 rounding, grown over 4 inferences
        many = runs[threads]
        assert np.abs(one[-1].positions - many[-1].positions).max() <= 1e-5 * spacing(one[-1]), threads
        assert np.abs(one[-1].velocities - many[-1].velocities).max() <= 1e-5 * np.abs(
            one[-1].velocities).max(), threads


REBUILD_DECK = """units lj
atom_style atomic
read_data {data}
pair_style zero {cutoff}
pair_coeff * *
neigh_modify every 1 delay 0 check no
timestep {timestep}
fix ogn all ogn {model} {k} kernel {kernel} threads {threads} newton {newton}
dump trajectory all custom 1 {out}/trajectory.dump id type xu yu zu vx vy vz
dump_modify trajectory sort id format float %.12g
run 4
"""


@pytest.mark.slow
def test_pairs_of_each_new_neighbour_list_on_the_kernel_threads(impulse_run, tiny_lj, tmp_path):
    """Once the fused kernel is checked, fix ogn takes its pairs from each new neighbour list on
    the kernel's threads (ogn::Graph::unique_pairs): with the list rebuilt every inference, the
    runs on 2 threads, and on 2 ranks of 2 threads (another rank's atoms get nodes of their
    own, newton on and off), agree with the TorchScript path, whose pairs the serial loop makes."""
    model, data = moments_in_a_larger_box(impulse_run, tiny_lj, tmp_path)
    _, meta = load_model(model)
    runs = {}
    for name, kernel, threads, ranks, newton in (("torch", "torch", 1, 0, "on"), ("fused", "fused", 2, 0, "on"),
                                                 ("ranks_on", "fused", 2, 2, "on"),
                                                 ("ranks_off", "fused", 2, 2, "off")):
        out = tmp_path / name
        out.mkdir()
        deck = out / "in.ogn"
        deck.write_text(REBUILD_DECK.format(data=data, cutoff=meta["cutoff"], timestep=meta["k"] * meta["dt"],
                                            model=model, k=meta["k"], kernel=kernel, threads=threads,
                                            newton=newton, out=out))
        proc = lmp(deck, out, mpi=ranks)
        assert int(re.search(r"Neighbor list builds = (\d+)", proc.stdout).group(1)) >= 4
        if kernel == "fused":
            assert f"fused CPU kernel, {threads} thread(s)" in proc.stdout
        runs[name] = frames(out)
    # each thread gets rows of its own (at least 1024 atoms each, per rank)
    assert len(runs["torch"][0].ids) >= 2 * 2 * 1024
    reference = runs["torch"]
    assert np.abs(reference[-1].positions - reference[0].positions).max() > 1e-2 * spacing(reference[-1])
    for name in ("fused", "ranks_on", "ranks_off"):
        run = runs[name]
        assert len(run) == len(reference) == 5
        assert np.abs(reference[-1].positions - run[-1].positions).max() <= 1e-4 * spacing(reference[-1]), name
        assert np.abs(reference[-1].velocities - run[-1].velocities).max() <= 1e-4 * np.abs(
            reference[-1].velocities).max(), name
        assert momentum_drift(run) < 1e-6, name


def assert_first_inference_is_the_rollouts(model: Path, fix_frames: list) -> None:
    """The fix's first inference (frames 0 -> 1) is the Python rollout's, to float32 rounding."""
    scripted, meta = load_model(model)
    first = fix_frames[0]
    xs, vs, _, failure = rollout(scripted, meta, first.types, first.ids, first.positions, first.velocities,
                                 first.box[:, 1] - first.box[:, 0], 1, progress=False)
    assert failure is None
    change = vs[1] - first.velocities
    assert np.abs(fix_frames[1].velocities - vs[1]).max() <= 1e-5 * np.abs(change).max()


@pytest.mark.slow
@pytest.mark.parametrize("end", [False, True], ids=["start", "end moments"])
def test_a_model_with_angular_moments_on_one_and_two_ranks(impulse_run, tiny_lj, tmp_path, end):
    """On two ranks the moments of ghost atoms come from their owners (fused kernel: reverse
    then forward communication; TorchScript: an extra stage and exchange), and so do the
    moments of the predicted end geometry: the runs agree with the Python rollout and with
    each other."""
    trained = impulse_run[0] / "model.pt"
    model = save_like(odd_model(trained, moments=2, end_moments=end), trained, tmp_path / "moments.pt")
    proc = run_ogn(tmp_path / "one", model, tiny_lj / "equilibrated.data", ninf=4)
    # the program: moments, pair stage 0, (end moments,) pair stage 1
    assert "1 MPI rank(s), fused CPU kernel" in proc.stdout and f"{3 + end} stage(s)" in proc.stdout
    one = frames(tmp_path / "one")
    assert_first_inference_is_the_rollouts(model, one)
    report = benchmark_report_pattern()
    (_, _, exchange_ms, wait_ms, _, _), = re.findall(report, proc.stdout)
    assert float(exchange_ms) == 0.0 and float(wait_ms) == 0.0    # one rank exchanges nothing
    for kernel, newton in (("fused", "on"), ("fused", "off"), ("torch", "on")):
        two_proc = run_ogn(tmp_path / f"{kernel}_{newton}", model, tiny_lj / "equilibrated.data", ninf=4, mpi=2,
                           procs="* * *", kernel=kernel, newton=newton)
        # the timing line benchmarks/fix_ogn.py reads: the wait for the other rank is part of
        # the exchange
        (_, _, exchange_ms, wait_ms, _, _), = re.findall(report, two_proc.stdout)
        assert 0.0 <= float(wait_ms) <= float(exchange_ms) and float(exchange_ms) > 0.0, (kernel, exchange_ms, wait_ms)
        two = frames(tmp_path / f"{kernel}_{newton}")
        assert np.abs(one[-1].positions - two[-1].positions).max() <= 1e-4 * spacing(one[-1]), kernel
        assert np.abs(one[-1].velocities - two[-1].velocities).max() <= 1e-4 * np.abs(one[-1].velocities).max()
        assert momentum_drift(two) < 1e-6
    assert np.abs(one[-1].positions - one[0].positions).max() > 1e-2 * spacing(one[-1])


@pytest.mark.slow
@pytest.mark.parametrize("rank, invariants", [(3, False), (2, True), (3, True)],
                         ids=["rank3", "invariants", "rank3 invariants"])
def test_rank_3_moments_and_invariants_on_one_and_two_ranks(impulse_run, tiny_lj, tmp_path, rank, invariants):
    """Rank-3 moments (M3 after M1: 20 C numbers per atom through the exchange) and the atoms'
    own invariants of their moments, with end moments, in the fused kernel: on one rank its
    first inference is the Python rollout's and its run the TorchScript forward()'s; on two
    ranks (fused kernel, newton on and off, and TorchScript's program of stages) the runs agree
    with one rank."""
    trained = impulse_run[0] / "model.pt"
    odd = odd_model(trained, moments=2, end_moments=True, moment_rank=rank, moment_invariants=invariants)
    model = save_like(odd, trained, tmp_path / "m.pt")
    proc = run_ogn(tmp_path / "one", model, tiny_lj / "equilibrated.data", ninf=4)
    assert "1 MPI rank(s), fused CPU kernel" in proc.stdout and "4 stage(s)" in proc.stdout, proc.stdout[-2000:]
    assert all(float(x) <= 1e-5 for x in CHECKED.search(proc.stdout).groups())
    one = frames(tmp_path / "one")
    assert_first_inference_is_the_rollouts(model, one)
    assert np.abs(one[-1].positions - one[0].positions).max() > 1e-2 * spacing(one[-1])
    run_ogn(tmp_path / "torch", model, tiny_lj / "equilibrated.data", ninf=4, kernel="torch")
    plain = frames(tmp_path / "torch")
    for attr in ("positions", "velocities"):
        change = getattr(plain[1], attr) - getattr(plain[0], attr)
        error = np.abs(getattr(one[1], attr) - getattr(plain[1], attr)).max()
        assert error <= 1e-5 * np.abs(change).max(), (attr, error / np.abs(change).max())
    assert np.abs(one[-1].positions - plain[-1].positions).max() <= 1e-4 * spacing(one[-1])
    for kernel, newton in (("fused", "on"), ("fused", "off"), ("torch", "on")):
        two_proc = run_ogn(tmp_path / f"{kernel}_{newton}", model, tiny_lj / "equilibrated.data", ninf=4, mpi=2,
                           procs="* * *", kernel=kernel, newton=newton)
        if kernel == "fused":
            assert f"fused CPU kernel, 1 thread(s), {'avx512' if 'avx512' in proc.stdout else 'avx2'}, newton {newton}" \
                in two_proc.stdout
        two = frames(tmp_path / f"{kernel}_{newton}")
        assert np.abs(one[-1].positions - two[-1].positions).max() <= 1e-4 * spacing(one[-1]), (kernel, newton)
        assert np.abs(one[-1].velocities - two[-1].velocities).max() <= 1e-4 * np.abs(one[-1].velocities).max()
        assert momentum_drift(two) < 1e-6


def test_kernel_threads_agree_with_one_thread(impulse_run, impulse_serial, tiny_lj, tmp_path):
    proc = run_ogn(tmp_path / "threads", impulse_run[0] / "model.pt", tiny_lj / "equilibrated.data", threads=2)
    assert "1 MPI rank(s), fused CPU kernel, 2 thread(s)" in proc.stdout
    assert "fused CPU kernel, 1 thread(s)" in (impulse_serial / "stdout.txt").read_text()
    one, two = frames(impulse_serial), frames(tmp_path / "threads")
    # the same sums in another order: float32 rounding, grown over 20 inferences
    assert np.abs(one[-1].positions - two[-1].positions).max() <= 1e-4 * spacing(one[-1])
    assert np.abs(one[-1].velocities - two[-1].velocities).max() <= 1e-4 * np.abs(one[-1].velocities).max()
    assert momentum_drift(two) < 1e-6


COST_DECK = """units lj
atom_style atomic
read_data {data}
pair_style zero {cutoff}
pair_coeff * *
timestep {timestep}
fix ogn all ogn {model} {k}
variable cost atom f_ogn
compute most all reduce max v_cost
compute least all reduce min v_cost
thermo_style custom step c_most c_least
thermo_modify format float %.8g
thermo 1
run 12
balance 1.0 shift x 10 1.0 weight var cost
run 2
"""


@pytest.mark.slow
def test_cost_per_atom_feeds_lammps_balance(impulse_run, impulse_serial, tiny_lj, tmp_path):
    """f_ID per atom is the rank's own work per atom and inference in microseconds (LAMMPS's
    `weight time` counts no fix's time); balance and fix balance weighted by it move atoms
    between ranks, and the per-atom array follows them, without changing the trajectory."""
    model = impulse_run[0] / "model.pt"
    _, meta = load_model(model)
    deck = tmp_path / "in.cost"
    deck.write_text(COST_DECK.format(data=tiny_lj / "equilibrated.data", cutoff=meta["cutoff"],
                                     timestep=meta["k"] * meta["dt"], model=model, k=meta["k"]))
    n_atoms = len(frames(impulse_serial)[0].ids)
    for ranks in (1, 2):
        proc = lmp(deck, tmp_path, mpi=ranks if ranks > 1 else 0)
        thermo = re.compile(r"\s*\d+\s+[\d.eE+-]+\s+[\d.eE+-]+\s*$")
        rows = [line.split() for line in proc.stdout.splitlines() if thermo.match(line)]
        most, least = float(rows[12][1]), float(rows[12][2])    # step 12: after 12 inferences
        assert least > 0.0 and np.isfinite(most)
        graph_ms, model_ms = (float(x) for x in re.findall(benchmark_report_pattern(), proc.stdout)[0][:2])
        if ranks == 1:
            assert most == least    # one rank: every atom carries the rank's cost
            # a running mean of the last inferences against the mean of the run: same order
            per_inference_us = most * n_atoms
            assert 0.3 <= per_inference_us / (1e3 * (graph_ms + model_ms)) <= 3.0, (most, graph_ms, model_ms)
        assert "Balancing ..." in proc.stdout and "imbalance factor" in proc.stdout
    # fix balance every 2 inferences on two ranks: the same run as one rank, to float32 rounding
    out = tmp_path / "balanced"
    proc = run_ogn(out, model, tiny_lj / "equilibrated.data", mpi=2, balance=2)
    assert "2 MPI rank(s)" in proc.stdout
    one, two = frames(impulse_serial), frames(out)
    assert len(one) == len(two) == 21
    assert np.abs(one[-1].positions - two[-1].positions).max() <= 1e-4 * spacing(one[-1])
    assert np.abs(one[-1].velocities - two[-1].velocities).max() <= 1e-4 * np.abs(one[-1].velocities).max()
    assert momentum_drift(two) < 1e-6
