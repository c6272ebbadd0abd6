"""The OGN model, its graphs, the cubic symmetries and the online standardization."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from ogn_lammps.data.dataset import Dataset
from ogn_lammps.model.graph import box_lengths, build_graph
from ogn_lammps.model.ogn import OGN, ModelConfig, Standardizer, forward_flops
from ogn_lammps.model.symmetry import CUBIC_SYMMETRIES
from ogn_lammps.train.config import load_config
from ogn_lammps.train.loop import Trainer
from ogn_lammps.train.objectives import fold
from ogn_lammps.train.pairs import Pairs


@pytest.fixture(scope="module")
def frame(tiny_dataset):
    with Dataset(tiny_dataset) as ds:
        x, v = ds.frame("train", "train_00", 3)
        return dict(types=ds.types.copy(), x=x, v=v, lengths=box_lengths(ds.box), cutoff=ds.info["cutoff"])


def run_model(model, types, x, v, lengths, cutoff):
    edge_index, vectors = build_graph(x, lengths, cutoff)
    with torch.no_grad():
        return model(torch.as_tensor(types), torch.as_tensor(v), torch.as_tensor(edge_index), torch.as_tensor(vectors))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    m = OGN(ModelConfig(n_types=2, n_layers=2)).eval()
    # Non-trivial statistics, so that standardization is part of what is tested.
    fold(m.node_norm, torch.randn(500, 5) * 2 + 0.5)
    fold(m.edge_norm, torch.randn(500, 3) * 1.5)
    fold(m.target_norm, torch.randn(500, 6) * 0.1)
    return m


def test_graph_matches_brute_force_minimum_image(frame):
    x, lengths, rc = frame["x"], frame["lengths"], frame["cutoff"]
    edge_index, vectors = build_graph(x, lengths, rc)
    d = x[None, :, :] - x[:, None, :]
    d -= lengths * np.round(d / lengths)
    dist = np.linalg.norm(d, axis=-1)
    i, j = np.nonzero((dist < rc) & ~np.eye(len(x), dtype=bool))
    assert np.array_equal(edge_index, np.stack([i, j]))
    np.testing.assert_allclose(vectors, d[i, j], atol=1e-9)
    # both directions of every pair, with opposite vectors
    reverse = {(a, b): k for k, (a, b) in enumerate(zip(i, j))}
    partner = np.array([reverse[(b, a)] for a, b in zip(i, j)])
    np.testing.assert_allclose(vectors[partner], -vectors, atol=1e-9)


def test_translation_invariance(model, frame):
    a = run_model(model, frame["types"], frame["x"], frame["v"], frame["lengths"], frame["cutoff"])
    shifted = frame["x"] + np.array([2.7, -13.1, 0.4])  # across periodic images, too
    b = run_model(model, frame["types"], shifted, frame["v"], frame["lengths"], frame["cutoff"])
    assert torch.isfinite(a).all() and a.abs().max() > 0
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5 * float(a.abs().max()))


def test_permutation_equivariance(model, frame):
    perm = np.random.default_rng(3).permutation(len(frame["types"]))
    a = run_model(model, frame["types"], frame["x"], frame["v"], frame["lengths"], frame["cutoff"])
    b = run_model(model, frame["types"][perm], frame["x"][perm], frame["v"][perm], frame["lengths"], frame["cutoff"])
    torch.testing.assert_close(b, a[perm], rtol=1e-5, atol=1e-5 * float(a.abs().max()))


def test_types_matter(model, frame):
    """The one-hot type reaches the output (a model blind to types would pass the tests above)."""
    a = run_model(model, frame["types"], frame["x"], frame["v"], frame["lengths"], frame["cutoff"])
    b = run_model(model, 3 - frame["types"], frame["x"], frame["v"], frame["lengths"], frame["cutoff"])
    assert float((a - b).abs().max()) > 1e-3 * float(a.abs().max())


def test_split_edge_layer_equals_the_concatenated_linear(model, frame):
    """The per-edge/per-node split of f_e's first Linear is the paper's f_e([e, e0], [n_i, n0_i], [n_j, n0_j])."""
    layer = model.layers[0].edge_update
    torch.manual_seed(5)
    n_edges, n_nodes, w = 50, 10, 64
    e, e0, h = torch.randn(n_edges, w), torch.randn(n_edges, w), torch.randn(n_nodes, 2 * w)
    src, dst = torch.randint(0, n_nodes, (n_edges,)), torch.randint(0, n_nodes, (n_edges,))
    full_w = torch.cat([layer.edge.weight, layer.edge0.weight, layer.sender.weight, layer.receiver.weight], 1)
    x = torch.cat([e, e0, h[src], h[dst]], 1)
    hidden = torch.relu(x @ full_w.T + layer.edge.bias)
    expected = layer.norm(torch.relu(layer.out(hidden)))
    with torch.no_grad():
        got = layer(e, e0, h, src, dst)
        layer.chunk, saved = 7, layer.chunk  # chunked evaluation gives the same edges
        chunked = layer(e, e0, h, src, dst)
        layer.chunk = saved
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(chunked, got, rtol=0, atol=1e-6)


def test_initialisation_is_truncated_fan_in_normal():
    torch.manual_seed(0)
    m = OGN(ModelConfig(n_types=2, n_layers=1))
    w = m.layers[0].node_update.hidden.weight.detach()  # fan-in 4 x 64
    std = 1 / np.sqrt(256)
    assert float(w.abs().max()) <= 2 * std / 0.87962566 + 1e-6
    assert abs(float(w.std()) - std) < 0.05 * std
    assert float(m.layers[0].node_update.hidden.bias.detach().abs().max()) == 0


def test_cubic_symmetries_form_the_cube_group():
    ops = CUBIC_SYMMETRIES
    assert ops.shape == (48, 3, 3)
    assert np.array_equal(ops[0], np.eye(3))
    keys = {op.tobytes() for op in ops}
    assert len(keys) == 48
    for a in ops:
        np.testing.assert_allclose(a @ a.T, np.eye(3), atol=0)
    for a, b in itertools.product(ops, ops):  # closed under composition (so inverses are in it too)
        assert (a @ b).tobytes() in keys
    dets = np.round(np.linalg.det(ops)).astype(int)
    assert (dets == 1).sum() == 24 and (dets == -1).sum() == 24
    vertices = {tuple(v) for v in itertools.product((-1.0, 1.0), repeat=3)}
    for op in ops:  # each maps the cube onto itself
        assert {tuple(op @ np.array(v)) for v in vertices} == vertices


@pytest.mark.parametrize("op_index", [0, 5, 17, 29, 47])
def test_symmetry_transforms_inputs_and_targets_consistently(tiny_dataset, op_index):
    """A training sample under symmetry S equals the sample built from the rotated frames."""
    op = CUBIC_SYMMETRIES[op_index]
    with Dataset(tiny_dataset) as ds:
        pairs = Pairs(ds, "train", 5, ds.info["cutoff"], cache_mb=64)
        lengths = box_lengths(ds.box)
        centre = ds.box.mean(1)
        x0, v0 = ds.frame("train", "train_00", 2)
        x1, v1 = ds.frame("train", "train_00", 7)
    sample = pairs.sample(2, op_index)
    rot = lambda a: a @ op.T  # noqa: E731
    rx0, rx1 = rot(x0 - centre) + centre, rot(x1 - centre) + centre
    edge_index, vectors = build_graph(rx0, lengths, pairs.cutoff)
    np.testing.assert_allclose(sample.velocities.numpy(), rot(v0), atol=1e-12)
    np.testing.assert_allclose(sample.targets.numpy(), np.concatenate([rx1 - rx0, rot(v1) - rot(v0)], 1), atol=1e-9)
    got = sample.edge_index.numpy()
    order = np.lexsort((got[1], got[0]))
    assert np.array_equal(got[:, order], edge_index)
    np.testing.assert_allclose(sample.edge_vectors.numpy()[order], vectors, atol=1e-9)


def test_standardizer_equals_numpy():
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc, scale, (n, 4)) for loc, scale, n in [(3.0, 0.1, 7), (-1, 5, 300), (0, 1e-3, 1), (10, 2, 55)]]
    s = Standardizer(4)
    for b in batches:
        fold(s, torch.from_numpy(b))
    data = np.concatenate(batches)
    np.testing.assert_allclose(s.mean.numpy(), data.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.std().numpy(), data.std(0), rtol=1e-12)
    x = rng.normal(size=(5, 4))
    np.testing.assert_allclose(s(torch.from_numpy(x)).numpy(), (x - data.mean(0)) / data.std(0), rtol=1e-10)
    np.testing.assert_allclose(s.inverse(s(torch.from_numpy(x))).numpy(), x, rtol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [1, 3])
def test_training_statistics_equal_numpy_over_the_batches_seen(tiny_dataset, tmp_path, batch_size):
    from conftest import write_config

    config = load_config(write_config(tmp_path / "c.toml", tiny_dataset, steps=5, batch_size=batch_size))
    trainer = Trainer(config, tmp_path / "run", resume=False)
    for step in range(5):
        trainer.train_step(step)
    seen = [trainer.batch(step) for step in range(5)]  # the same batches, rebuilt
    nodes = np.concatenate([np.concatenate([np.eye(2)[s.types.numpy() - 1], s.velocities.numpy()], 1) for s in seen])
    edges = np.concatenate([s.edge_vectors.numpy() for s in seen])
    targets = np.concatenate([s.targets.numpy() for s in seen])
    m = trainer.model
    for norm, data in ((m.node_norm, nodes), (m.edge_norm, edges), (m.target_norm, targets)):
        assert int(norm.count) == len(data)
        np.testing.assert_allclose(norm.mean.numpy(), data.mean(0), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(norm.std().numpy(), data.std(0), rtol=1e-10)


def test_forward_flops_counts_the_matmuls():
    c = ModelConfig(n_types=2, n_layers=2, width=64)
    flops = forward_flops(c, n_nodes=100, n_edges=1000)
    # encoder (node 5->64->64, edge 3->64->64), per layer edges 3 x 64^2 and nodes 4 x 64^2 (split)
    # plus the node MLP 256->64->64, decoder 64->64->6
    expected = 2 * (100 * (5 * 64 + 64 * 64) + 1000 * (3 * 64 + 64 * 64))
    expected += 2 * 2 * (1000 * 3 * 64 * 64 + 100 * 4 * 64 * 64 + 100 * (256 * 64 + 64 * 64))
    expected += 2 * 100 * (64 * 64 + 64 * 6)
    assert flops == expected


def test_batched_configurations_equal_single_ones(tiny_dataset, model):
    """batch_size > 1 joins configurations into one disjoint graph (torch_geometric's Batch)."""
    from ogn_lammps.train.pairs import collate

    with Dataset(tiny_dataset) as ds:
        pairs = Pairs(ds, "train", 5, ds.info["cutoff"], cache_mb=64)
    samples = [pairs.sample(0, 3), pairs.sample(30, 11)]
    batch = collate(samples)
    n = len(samples[0].types)
    assert batch.edge_index.shape[1] == sum(s.edge_index.shape[1] for s in samples)
    assert int(batch.edge_index[:, samples[0].edge_index.shape[1]:].min()) == n  # second graph offset by N
    with torch.no_grad():
        joint = model(batch.types, batch.velocities, batch.edge_index, batch.edge_vectors)
        single = torch.cat([model(s.types, s.velocities, s.edge_index, s.edge_vectors) for s in samples])
    torch.testing.assert_close(joint, single, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(batch.targets, torch.cat([s.targets for s in samples]))
