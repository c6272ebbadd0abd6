"""Paper ESI S8: how deep a model needs to be, at equal training minutes on this machine.

The paper's OGN at 1, 2, 4 and 10 MPNN layers (configs/lj_ogn_fast_cpu.toml with `n_layers`)
and the structured OGN at 1, 2, 3 and 4 predictor-corrector stages (configs/lj_fast.toml with
`stages`), each trained for the same minutes (`--minutes`, default 5) on the LJ training
data (data/lj: the deck's default seed), exported, and judged through fix ogn on held-out
states (data/lj_heldout, seed 2026): test loss and RMSE at 25 and 100 MD steps. The paper finds
the test loss after 1000 epochs falling with depth and flat beyond 2 layers (ESI S8B), hence
Fast-OGN's 2. The structured OGN's drag is calibrated on single steps (calibration_inferences
= 0) so that every variant spends its minutes on training alone.
"""

from __future__ import annotations

import math
from pathlib import Path

from ...data.dataset import build as build_dataset
from ...environment import deck_arguments, inputs_dir, run_lmp
from ...model.model_file import load
from ...train.config import check_values, load_config
from ...train.export import export
from ...train.loop import Trainer
from ..heldout import make_heldout
from .context import Context, Study, StudyError, pyplot, fmt, newer, validated, write_summary

# (architecture, its base config, the depth key, the depths)
VARIANTS = (("ogn", "lj_ogn_fast_cpu.toml", "n_layers", (1, 2, 4, 10)),
            ("impulse", "lj_fast.toml", "stages", (1, 2, 3, 4)))
LABELS = {"ogn": "paper OGN, MPNN layers", "impulse": "structured OGN, stages"}


def training_data(ctx: Context) -> Path:
    """data/lj/dataset.h5, the LJ deck's default training data, made when missing."""
    folder = ctx.data / "lj"
    data = folder / "dataset.h5"
    if not data.is_file():
        ctx.say(f"s8: LJ training data (the deck's defaults: 10 + 2 trajectories of 1000 MD steps) -> {folder}")
        run = run_lmp(deck_arguments(inputs_dir() / "lj_ground_truth.in",
                                      {"inputs": inputs_dir(), "out": folder} | ctx.deck))
        if run.error:
            raise StudyError(f"s8: LJ training data failed: {run.error}")
        build_dataset(folder, quiet=True)
    return data


def train_variant(ctx: Context, architecture: str, base: str, key: str, depth: int, data: Path) -> Path:
    """Train (or resume, or reuse) one variant for ctx.minutes; returns its exported model."""
    out = ctx.work / "s8" / f"{architecture}_{key}_{depth}"
    checkpoint, model = out / "checkpoint.pt", out / "model.pt"
    config = load_config(ctx.configs / base)
    config["data"]["dataset"] = str(data)
    config["model"][key] = depth
    if architecture == "impulse":
        config["model"]["calibration_inferences"] = 0
    config["train"]["minutes"] = ctx.minutes
    config["train"]["steps"] = 10_000_000  # bounded by the minutes
    check_values(config, f"{ctx.configs / base} with {key} = {depth}")
    resume = checkpoint.is_file()
    ctx.say(f"s8: {architecture} {key} = {depth}, {ctx.minutes:g} min -> {out}" + (" (resumed)" if resume else ""))
    code = Trainer(config, out, resume).run(quiet=True)
    if code != 0:
        raise StudyError(f"s8: training {out} stopped with status {code}; resume it with: python -m ogn_lammps.results "
                         "studies --only s8")
    if not newer(model, checkpoint):
        export(checkpoint, model, quiet=True, domain=False)
    return model


def run(ctx: Context) -> dict:
    data = training_data(ctx)
    heldout = make_heldout("lj", ctx.data / "lj_heldout", 1, 2, 2000, ctx.deck, ctx.say)
    rows = []
    for architecture, base, key, depths in VARIANTS:
        for depth in depths:
            model = train_variant(ctx, architecture, base, key, depth, data)
            s = validated(ctx, model, heldout, model.parent / "validate", starts=2, horizon=100, long=0,
                          verlet_ladder=False)
            _, meta = load(model)
            row = dict(architecture=architecture, key=key, depth=depth, minutes=meta.get("trained_minutes"),
                       steps=meta.get("trained_steps"), test_loss=meta.get("test_loss"),
                       flops_per_atom=meta.get("flops_per_atom"))
            if "failed" in s:
                rows.append(row | s)
                continue
            r25, r100 = s["rmse"].get("25", {}), s["rmse"].get("100", {})
            rows.append(row | dict(starts=s["starts"], pos_25=r25.get("pos"), vel_25=r25.get("vel"),
                                   pos_100=r100.get("pos"), vel_100=r100.get("vel"),
                                   pos_static_100=r100.get("pos_static"), vel_static_100=r100.get("vel_static")))
    return write_summary(STUDY.summary_path(ctx), dict(minutes=ctx.minutes, rows=rows))


def plot(ctx: Context, rows: list[dict]) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for i, (architecture, _, key, _) in enumerate(VARIANTS):
        mine = [r for r in rows if r["architecture"] == architecture]
        depth = [r["depth"] for r in mine]
        axes[0].plot(depth, [r["test_loss"] for r in mine], "o-", color=f"C{i}", label=LABELS[architecture])
        for ax, h in ((axes[1], 25), (axes[2], 100)):
            ax.plot(depth, [r.get(f"pos_{h}", math.nan) for r in mine], "o-", color=f"C{i}", label=f"{LABELS[architecture]}")
    static = [r["pos_static_100"] for r in rows if r.get("pos_static_100")]
    if static:
        axes[2].axhline(static[0], color="0.5", ls="--", label="static atoms")
    axes[0].set_ylabel("test loss at the end (each architecture its own)")
    axes[1].set_ylabel("position RMSE at 25 MD steps")
    axes[2].set_ylabel("position RMSE at 100 MD steps")
    for ax in axes:
        ax.set_xlabel("depth (MPNN layers / stages)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("LJ: depth at equal training minutes, held-out states through fix ogn")
    return ctx.figure(fig, "s8")


def section(summary: dict, ctx: Context) -> list[str]:
    rows = summary["rows"]
    lines = [f"## {STUDY.title}", "",
             f"LJ liquid, k = 5, each variant trained for {summary['minutes']:g} minutes on one core of this 2-core "
             "machine (its steps in the table), then judged through fix ogn from held-out states (seed 2026, "
             f"{max((r.get('starts', 0) for r in rows), default=0)} starts). Test losses compare depths within one architecture only: "
             "the paper OGN's is the MSE of its standardized outputs, the structured OGN's the per-type normalized "
             "MSE of dv and dr.", "",
             "| architecture | depth | steps in the minutes | test loss | k FLOPs per atom per inference | "
             "pos / vel RMSE, 25 MD steps | pos / vel RMSE, 100 MD steps |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        judged = (f"stopped at MD step {r['diverged_md_step']} | |" if "failed" in r else
                  f"{fmt(r['pos_25'])} / {fmt(r['vel_25'])} | {fmt(r['pos_100'])} / {fmt(r['vel_100'])} |")
        lines.append(f"| {LABELS[r['architecture']]} | {r['depth']} | {r['steps']} | {fmt(r['test_loss'])} | "
                     f"{(r['flops_per_atom'] or math.nan) / 1e3:.0f} | {judged}")
    static = [r for r in rows if r.get("pos_static_100")]
    if static:
        lines += ["", f"Static atoms: {fmt(static[0]['pos_static_100'])} / {fmt(static[0]['vel_static_100'])} at 100 "
                  "MD steps."]
    sentences = []
    for architecture, _, key, depths in VARIANTS:
        mine = [r for r in rows if r["architecture"] == architecture and "failed" not in r]
        if not mine:
            continue
        losses = ", ".join(f"{fmt(r['test_loss'])} ({r['depth']})" for r in mine)
        best_25 = min(mine, key=lambda r: r["pos_25"])
        sentences.append(f"{LABELS[architecture]}: test loss {losses}, the lowest position RMSE at 25 MD steps at "
                         f"depth {best_25['depth']}, {mine[0]['steps']} steps at depth {mine[0]['depth']} against "
                         f"{mine[-1]['steps']} at {mine[-1]['depth']}")
    lines += ["", "Ours against the paper (loss falling with depth and flat beyond 2 layers, after 1000 epochs on "
              "GPUs): " + "; ".join(sentences) + ".", ""]
    lines += [f"![test loss and RMSE against depth (ESI S8B)]({plot(ctx, rows)})", ""]
    return lines


STUDY = Study("s8", "Depth at equal training minutes (paper ESI S8)", run, section)
