"""What training fits and minimizes for each architecture, kept beside training rather than
in the models (as GNS keeps its model pure): a model holds its function and the scales that
function uses; fitting those scales, the loss and the end-of-training calibration are here.

An objective has `prepare(model, samples)` (fit the model's data scales on training samples
before the first step), `observe(model, sample)` (per step, before the loss: online
statistics), `loss(model, sample)` and `finalize(model, samples, starts)` (after the last
step; returns what it measured, for final.json and the metadata). `OBJECTIVES` names one per
architecture; `objective(model, facts)` picks it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def fold(norm, x: Tensor) -> None:
    """Merge the rows of `x` into a Standardizer's running mean and variance (Chan et al.'s
    parallel update, in float64): the result equals numpy's mean and population std over all
    rows seen so far (paper 4.4 ii)."""
    x = x.detach().to(torch.float64).reshape(-1, norm.mean.numel())
    n = x.shape[0]
    if n == 0:
        return
    with torch.no_grad():
        batch_mean = x.mean(0)
        batch_m2 = ((x - batch_mean) ** 2).sum(0)
        total = norm.count + n
        delta = batch_mean - norm.mean
        norm.mean += delta * (n / total)
        norm.m2 += batch_m2 + delta**2 * (norm.count * n / total)
        norm.count.fill_(total)


class OGNObjective:
    """The paper's OGN: online standardization of inputs and targets, MSE of the
    standardized [dr, dv] (4.4 ii-iii), nothing to calibrate."""

    def __init__(self, facts: dict | None = None):
        self.facts = facts or {}

    def prepare(self, model, samples) -> None:
        """Nothing to fit before training: the standardization is online."""

    def observe(self, model, sample) -> None:
        fold(model.node_norm, model.node_features(sample.types, sample.velocities.to(torch.float64)))
        fold(model.edge_norm, sample.edge_vectors)
        fold(model.target_norm, sample.targets)

    def loss(self, model, sample) -> Tensor:
        prediction = model.standardized_output(sample.types, sample.velocities, sample.edge_index,
                                               sample.edge_vectors)
        return torch.mean((prediction - model.target_norm(sample.targets.to(prediction.dtype))) ** 2)

    def finalize(self, model, samples, starts=()) -> dict:
        return {}


def predict(model, sample, half: bool | None = None) -> Tensor:
    """The structured OGN's [dr, dv] for a training sample, on each unordered pair once when
    its config says so (half_pairs; the same function, half the MLP work)."""
    return model.forward_on_pairs(sample.types, sample.velocities, sample.edge_index, sample.edge_vectors,
                                  model.config.half_pairs if half is None else half)


class ImpulseObjective:
    """The structured OGN: data scales fitted once before training, per-type MSE of dr and dv,
    and the drag calibrated after training (train/calibration.py)."""

    def __init__(self, facts: dict | None = None):
        self.facts = facts or {}

    @torch.no_grad()
    def prepare(self, model, samples) -> None:
        """Fit the data scales on training samples: radial range, velocity, impulse, per-type errors."""
        n_types = model.n_types
        d_min, w2, pv, qv = math.inf, [], [], []
        dv_sq = torch.zeros(n_types, dtype=torch.float64)
        dr_sq = torch.zeros(n_types, dtype=torch.float64)
        counts = torch.zeros(n_types, dtype=torch.float64)
        tau = float(model.tau)
        for s in samples:
            d = torch.linalg.norm(s.edge_vectors, dim=1)
            d_min = min(d_min, float(d.min()))
            v = s.velocities
            w2.append(((v[s.edge_index[1]] - v[s.edge_index[0]]) ** 2).mean())
            dv, dr = s.targets[:, 3:6], s.targets[:, :3]
            m = (1.0 / model.inv_mass)[s.types - 1].unsqueeze(1)
            pv.append(((m * dv) ** 2).mean())
            qv.append(((m * (dr - tau * (v + 0.5 * dv))) ** 2).mean())
            t = s.types - 1
            counts += torch.bincount(t, minlength=n_types).double()
            dv_sq += torch.zeros(n_types, dtype=torch.float64).index_add(0, t, (dv ** 2).mean(1))
            dr_sq += torch.zeros(n_types, dtype=torch.float64).index_add(0, t, ((dr - tau * v) ** 2).mean(1))
        counts = torch.clamp(counts, min=1.0)
        model.r_min.fill_(0.9 * d_min)
        model.v_scale.fill_(float(torch.sqrt(torch.stack(w2).mean())))
        # a typical atom has tens of neighbours; the per-pair unit keeps a, b, c, e of order 1
        n_neighbours = max(1.0, float(np.mean([s.edge_index.shape[1] / len(s.types) for s in samples])))
        model.p_scale.fill_(float(torch.sqrt(torch.stack(pv).mean())) / math.sqrt(n_neighbours))
        model.q_scale.fill_(float(torch.sqrt(torch.stack(qv).mean())) / math.sqrt(n_neighbours))
        model.dv_scale.copy_(torch.sqrt(dv_sq / counts))
        model.dr_scale.copy_(torch.sqrt(dr_sq / counts))
        if model.n_mom > 0:
            # each channel's M0 is 1 on average: the moments' invariants are of order 1
            model.mom_scale.fill_(1.0)
            m0 = torch.stack([model.angular_moments(len(s.types), s.edge_index, s.edge_vectors)[:, :model.n_mom]
                              .double().mean(0) for s in samples]).mean(0)
            model.mom_scale.copy_(torch.clamp(m0, min=1e-6))

    def observe(self, model, sample) -> None:
        """Nothing to update per step: the scales are fixed by prepare()."""

    def loss(self, model, sample) -> Tensor:
        """MSE of dv and of dr, each per type over its own scale."""
        prediction = predict(model, sample)
        dtype = prediction.dtype
        targets = sample.targets.to(dtype)
        t = sample.types - 1
        err_r = (prediction[:, :3] - targets[:, :3]) / model.dr_scale.to(dtype)[t].unsqueeze(1)
        err_v = (prediction[:, 3:] - targets[:, 3:]) / model.dv_scale.to(dtype)[t].unsqueeze(1)
        return 0.5 * (torch.mean(err_r ** 2) + torch.mean(err_v ** 2))

    def finalize(self, model, samples, starts=()) -> dict:
        from .calibration import calibrate_drag

        return calibrate_drag(model, samples, starts, k=int(self.facts.get("k", 1)))


# architecture name -> its objective; a new architecture adds one line here
OBJECTIVES = {"ogn": OGNObjective, "impulse": ImpulseObjective}


def objective(model, facts: dict | None = None):
    """The objective of `model`'s architecture, for the system `facts` (k, masses, ...)."""
    if model.name not in OBJECTIVES:
        raise ValueError(f"no training objective for architecture {model.name!r} (train/objectives.py)")
    return OBJECTIVES[model.name](facts)
