"""The structured OGN's drag calibration after training (design §4b): the pair drag
p_ij = gamma f(d) m_ref w_ij is not learned; gamma is set so that the model neither heats nor
cools, measured on held-out pairs (one step) or on the model's own rollouts.

The rollouts are model/step.py's `rollout`, the loop every rollout in the package uses, with
its stop on a non-finite or runaway prediction: a rollout that diverges counts as +inf
(a run that gains energy until it blows up).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import torch
from torch import Tensor

from ..model.step import rollout
from .objectives import predict


def kinetic_bias(model, sample, prediction: Tensor) -> Tensor:
    """Per configuration: (KE(v + dv_pred) - KE(v + dv_true)) / KE(v)."""
    dtype = prediction.dtype
    m = (1.0 / model.inv_mass).to(dtype)[sample.types - 1]
    v = sample.velocities.to(dtype)
    dv_true = sample.targets[:, 3:].to(dtype)
    dv = prediction[:, 3:]
    per_atom = m * ((v * (dv - dv_true)).sum(1) + 0.5 * ((dv * dv).sum(1) - (dv_true * dv_true).sum(1)))
    ke = 0.5 * m * (v * v).sum(1)
    batch = sample.batch if getattr(sample, "batch", None) is not None else torch.zeros_like(sample.types)
    n = int(batch.max()) + 1
    num = torch.zeros(n, dtype=dtype).index_add(0, batch, per_atom)
    den = torch.zeros(n, dtype=dtype).index_add(0, batch, ke)
    return num / den


@torch.no_grad()
def mean_bias(model, samples) -> float:
    return float(np.mean([float(kinetic_bias(model, s, predict(model, s, half=False)).mean()) for s in samples]))


@torch.no_grad()
def rollout_trend(model, starts, k: int = 1) -> float:
    """What the rollout calibration drives to zero, along the model's own rollouts of
    `calibration_inferences` steps from `starts`; +inf when a rollout diverges.
    calibration_target "trend": the mean least-squares slope of the kinetic energy per
    inference, relative to the start's; "temperature": the mean kinetic energy over the
    rollouts over the data's own (each start's "reference_ke", sum m v^2 averaged over its
    split), minus 1. k only labels the MD steps of a failure."""
    n = model.config.calibration_inferences
    metadata = {"cutoff": float(model.cutoff), "k": k}
    device = model.inv_mass.device
    values = []
    for start in starts:
        types = np.asarray(start["types"])
        m = (1.0 / model.inv_mass.double().cpu())[torch.as_tensor(types) - 1].numpy()[:, None]
        _, vs, _, failure = rollout(model, metadata, types, np.arange(1, len(types) + 1), start["positions"],
                                    start["velocities"], start["lengths"], n, device, progress=False)
        if failure:
            return math.inf
        ke = [float((m * v * v).sum()) for v in vs]
        if model.config.calibration_target == "temperature":
            values.append(float(np.mean(ke[1:])) / float(start["reference_ke"]) - 1.0)
        else:
            values.append(np.polyfit(np.arange(n + 1), np.asarray(ke) / ke[0], 1)[0])
    return float(np.mean(values))


@torch.no_grad()
def zero_trend(model, g0: float, slope: float, starts, result: dict, k: int = 1, evaluations: int = 10):
    """(|trend|, gamma, trend) with the smallest measured trend of the rollouts' kinetic
    energy. The trend falls with gamma, but steeply and not linearly over long rollouts
    (silicon, 200 inferences: +0.0039 per inference at gamma 0.0010, +0.0001 at 0.0021,
    -0.0018 at 0.0035), so secant steps alone overshoot: once two gammas bracket a sign
    change, the bracket is halved instead. The same holds for the "temperature" target."""
    config = model.config
    target = config.calibration_target

    def say(g: float, t: float) -> None:  # minutes of rollouts: show the search
        print(f"train: rollout calibration {len(measured)}/{evaluations}: drag {g:.6g}, {target} {t:+.4g} "
              f"({len(starts)} starts x {config.calibration_inferences} inferences)",
              file=sys.stderr, flush=True)

    began = time.monotonic()
    t0 = rollout_trend(model, starts, k)
    result[f"rollout_{target}_before"] = t0
    measured = [(g0, t0)]
    say(g0, t0)
    print(f"train: one rollout calibration took {time.monotonic() - began:.0f} s; up to {evaluations} of them, "
          f"about {evaluations * (time.monotonic() - began) / 60:.1f} min at most", file=sys.stderr, flush=True)
    # first guess: a trend t0 per inference cancelled like a one-step bias of t0; a mean
    # temperature bias builds up over the rollout, taken here as over a tenth of it
    per_step = t0 if math.isfinite(t0) else 0.01
    if target == "temperature" and math.isfinite(t0):
        per_step = t0 / max(1.0, config.calibration_inferences / 10)
    g1 = g0 - per_step / slope if slope != 0 else g0 - 1e-4
    for _ in range(evaluations - 1):
        model.drag.fill_(g1)
        measured.append((g1, rollout_trend(model, starts, k)))
        say(*measured[-1])
        hot = [(g, t) for g, t in measured if t > 0]
        cold = [(g, t) for g, t in measured if t <= 0]
        if hot and cold:  # bracketed: halve between the hottest-drag cold and the coldest-drag hot
            g_hot, g_cold = max(g for g, _ in hot), min(g for g, _ in cold)
            g1 = 0.5 * (g_hot + g_cold)
        else:  # not yet: a secant step through the last two finite points, at least doubling
            (ga, ta), (gb, tb) = measured[-2], measured[-1]
            step = gb - ga if gb != ga else 1e-4
            if math.isfinite(ta) and math.isfinite(tb) and ta != tb:
                step = -tb * (gb - ga) / (tb - ta)
            away = 1.0 if hot else -1.0  # all hot: more drag; all cold: less
            g1 = gb + away * max(abs(step), 2 * abs(gb - ga))
    return min((abs(t), g, t) for g, t in measured if math.isfinite(t)) if any(
        math.isfinite(t) for _, t in measured) else (math.inf, g0, t0)


@torch.no_grad()
def calibrate_drag(model, samples, starts=(), k: int = 1) -> dict:
    """Measure the mean temperature bias per inference on held-out pairs and, if the config
    asks for it, calibrate the drag gamma to cancel it: on single steps (the bias is linear
    in gamma: one probe, one secant step), or, with calibration_inferences > 0, on the
    trend of the model's own rollouts from `starts` (`zero_trend`: up to 10 rollout sets,
    secant steps until the trend changes sign, then halving the bracket)."""
    samples = list(samples)
    before = mean_bias(model, samples)
    result = {"temperature_bias_before": before}
    config = model.config
    if config.drag_correction:
        start = float(model.drag)
        probe = start + 1e-3
        model.drag.fill_(probe)
        slope = (mean_bias(model, samples) - before) / (probe - start)
        gamma = start - before / slope if slope != 0 else start
        model.drag.fill_(gamma)
        result["drag_one_step"] = gamma
        if config.calibration_inferences > 0 and starts:
            best = zero_trend(model, gamma, slope, starts, result, k)
            model.drag.fill_(best[1])
            result[f"rollout_{config.calibration_target}"] = best[2]
        result["drag"] = float(model.drag)
    result["temperature_bias"] = mean_bias(model, samples)
    return result
