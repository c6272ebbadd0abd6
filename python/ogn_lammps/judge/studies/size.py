"""Paper ESI S5: a model trained at paper size, run on 8x and 27x boxes.

For every system with a shipped model: the paper-size held-out data of `ogn_lammps.results`
(data/<sys>_heldout, seed 2026) and replicated boxes made by the system's own deck (`-var rep 2`
and `3`: the small box is placed and relaxed, replicated, then given new velocities and
equilibrated at full size; seeds 2027 and 2028, one trajectory each). Each is judged through
fix ogn from 2 starts per trajectory (RMSE at the judged steps), and timed: fix ogn with
`pair_style zero` and LAMMPS velocity-Verlet at dt with the true potential, a few seconds each
from the first start on one core (judge/speed.py), as microseconds per atom per MD step. The
paper finds the LJ model's RMSE at 100 MD steps flat from 265 to 10 000 atoms (ESI S5C).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from ...data import systems
from ...data.lammps_files import read_data_header
from ...model.model_file import load
from .. import speed as timing
from ..heldout import make_heldout
from .context import Context, Study, StudyError, fmt, newer, pyplot, validated, write_summary

REPS = (1, 2, 3)
STARTS = 2
# equilibration of a replicated box, MD steps: its copies have relaxed their overlaps at paper
# size already, and 27 x 10 000 atom-steps per copy would cost silica 20 core-minutes
REP_NEQ = 4000


def heldout(ctx: Context, name: str, rep: int, horizon: int) -> Path:
    if rep == 1:  # the paper-size held-out data of ogn_lammps.results
        return make_heldout(name, ctx.data / f"{name}_heldout", 1, 2, 2000, ctx.deck, ctx.say)
    # one trajectory, long enough for two starts a horizon apart's worth of frames
    return make_heldout(name, ctx.data / "studies" / "s5" / f"{name}_x{rep ** 3}", rep, 1, horizon + 100,
                        {"neq": REP_NEQ} | ctx.deck, ctx.say)


def cost(ctx: Context, model: Path, meta: dict, entry, start: Path, out: Path) -> dict:
    """us per atom per MD step of fix ogn and of velocity-Verlet at dt from `start`, reused
    while newer than the model and the state."""
    path = out / "cost.json"
    if not ctx.rerun and newer(path, model, start):
        return json.loads(path.read_text())
    try:
        ogn = timing.fix_ogn(model, meta, entry, start, 1, folder=out / "speed_ogn")
        vv = timing.verlet(entry, start, 1, 1, folder=out / "speed_verlet")
        result = dict(ogn_us=1e6 / ogn.rate, verlet_us=1e6 / vv.rate, note="")
    except timing.SpeedError as err:
        result = dict(ogn_us=math.nan, verlet_us=math.nan, note=str(err).splitlines()[0][:300])
    return write_summary(path, result)


def spread(table: Path, md_steps: int) -> dict:
    """The relative standard deviation of the RMSE between the starts (validate's rmse.csv):
    how far apart two boxes can be by the choice of states alone."""
    with open(table) as f:
        rows = [r for r in csv.DictReader(f) if int(r["md_steps"]) == md_steps]
    pos, vel = (np.array([float(r[key]) for r in rows]) for key in ("pos", "vel"))
    return dict(pos_spread=float(pos.std(ddof=1) / pos.mean()) if len(pos) > 1 else math.nan,
                vel_spread=float(vel.std(ddof=1) / vel.mean()) if len(vel) > 1 else math.nan)


def run(ctx: Context) -> dict:
    names = ctx.systems or tuple(n for n in systems.names() if (ctx.models / f"{n}_fast.pt").is_file())
    rows = []
    for name in names:
        model = ctx.model(name)
        entry = systems.get(name)
        _, meta = load(model)
        horizon = max(200, entry.judge_steps)
        for rep in REPS:
            data = heldout(ctx, name, rep, horizon)
            out = ctx.work / "s5" / f"{name}_x{rep ** 3}"
            s = validated(ctx, model, data, out, starts=STARTS, horizon=horizon, long=0, verlet_ladder=False)
            row = dict(system=name, rep=rep, md_steps=entry.judge_steps)
            if "failed" in s:
                rows.append(row | s)
                continue
            starts = sorted((out / "runs").glob("test_00_*/start.data"))
            if not starts:
                raise StudyError(f"s5: {out}/runs holds no start.data")
            r = s["rmse"][str(entry.judge_steps)]
            rows.append(row | dict(atoms=read_data_header(starts[0]).n_atoms, starts=s["starts"], pos=r["pos"],
                                   vel=r["vel"], pos_static=r["pos_static"], vel_static=r["vel_static"],
                                   **spread(out / "rmse.csv", entry.judge_steps),
                                   **cost(ctx, model, meta, entry, starts[0], out)))
    return write_summary(STUDY.summary_path(ctx), dict(rows=rows, rep_neq=REP_NEQ, starts=STARTS))


def plot(ctx: Context, rows: list[dict]) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for i, name in enumerate(dict.fromkeys(r["system"] for r in rows)):
        mine = sorted((r for r in rows if r["system"] == name and "failed" not in r), key=lambda r: r["atoms"])
        if not mine:
            continue
        base = mine[0]
        n = [r["atoms"] for r in mine]
        axes[0].plot(n, [r["pos"] / base["pos"] for r in mine], "o-", color=f"C{i}", label=name)
        axes[1].plot(n, [r["vel"] / base["vel"] for r in mine], "o-", color=f"C{i}", label=name)
        axes[2].plot(n, [r["ogn_us"] for r in mine], "o-", color=f"C{i}", label=f"{name}, fix ogn")
        axes[2].plot(n, [r["verlet_us"] for r in mine], "x--", color=f"C{i}", label=f"{name}, velocity-Verlet at dt")
    axes[0].set_ylabel("position RMSE / paper size's")
    axes[1].set_ylabel("velocity RMSE / paper size's")
    axes[2].set_ylabel("us per atom per MD step, one core")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("atoms")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[2].set_yscale("log")
    fig.suptitle("Size: models trained at paper size, at the judged steps, held-out replicated boxes")
    return ctx.figure(fig, "s5")


def section(summary: dict, ctx: Context) -> list[str]:
    rows = summary["rows"]
    lines = [f"## {STUDY.title}", "",
             "Each shipped model, trained on paper-size boxes, run through fix ogn on held-out boxes of the paper's "
             "size and on 8x and 27x boxes made by the system's own deck (`-var rep 2`, `3`, equilibrated for "
             f"{summary['rep_neq']} MD steps after the replication; new velocities, seeds 2026-2028; "
             f"{summary['starts']} starts per "
             "trajectory). RMSE at the judged steps (static baseline in brackets); "
             "cost in microseconds per atom per MD step on one core, fix ogn with `pair_style zero` against "
             "velocity-Verlet at dt with the true potential, timed a few seconds each on the same state.", "",
             "The spread is the relative standard deviation of the RMSE between those starts.", "",
             "| system | box | atoms | MD steps | position RMSE (static) | velocity RMSE (static) | spread pos / vel | "
             "fix ogn us | VV at dt us | starts |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "failed" in r:
            lines.append(f"| {r['system']} | x{r['rep'] ** 3} | | {r['md_steps']} | stopped" + (
                f" at MD step {r['diverged_md_step']}" if r.get("diverged_md_step") is not None else "")
                + " | | | | | |")
            continue
        lines.append(f"| {r['system']} | x{r['rep'] ** 3} | {r['atoms']} | {r['md_steps']} | {fmt(r['pos'])} "
                     f"({fmt(r['pos_static'])}) | {fmt(r['vel'])} ({fmt(r['vel_static'])}) | "
                     f"{100 * r['pos_spread']:.0f}% / {100 * r['vel_spread']:.0f}% | {fmt(r['ogn_us'])} | "
                     f"{fmt(r['verlet_us'])} | {r['starts']} |" + (f" {r['note']}" if r.get("note") else ""))
    sentences = []
    for name in dict.fromkeys(r["system"] for r in rows):
        mine = sorted((r for r in rows if r["system"] == name), key=lambda r: r["rep"])
        stopped = [f"x{r['rep'] ** 3}" for r in mine if "failed" in r]
        if stopped:
            sentences.append(f"{name} stopped on the {', '.join(stopped)} box(es)")
            continue
        base, big = mine[0], mine[-1]
        dp, dv = big["pos"] / base["pos"] - 1, big["vel"] / base["vel"] - 1
        within = abs(dp) <= 2 * base["pos_spread"] and abs(dv) <= 2 * base["vel_spread"]
        sentences.append(f"{name} at {big['atoms']} atoms {fmt(big['pos'])} / {fmt(big['vel'])} against "
                         f"{fmt(base['pos'])} / {fmt(base['vel'])} at {base['atoms']} ({100 * dp:+.0f}% / {100 * dv:+.0f}%, "
                         + ("within" if within else "beyond") + " twice the spread between the paper-size starts)")
    lines += ["", "Ours against the paper (RMSE flat from 265 to 10 000 LJ atoms): " + "; ".join(sentences) + ".", ""]
    lines += [f"![RMSE and cost against size (ESI S5C)]({plot(ctx, rows)})", ""]
    return lines


STUDY = Study("s5", "Size (paper ESI S5)", run, section)
