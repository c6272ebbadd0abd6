"""Paper ESI S11: the fictive temperature of the melt-quenched LJ glass.

`inputs/lj_glass_fictive.in` quenches independent LJ liquids from T = 3.0 by the ground
truth's Nose-Hoover ramp at its rate (3.0 -> 0.5 in 10 000 MD steps), continued to 0.05 as the
paper does, and logs the potential energy per atom against the temperature. A straight line
through the glass (T in GLASS_FIT) and one through the supercooled liquid just above the bend
(T in LIQUID_FIT) cross at T_f. The paper reads T_f ~ 0.62 from its Fig. S11. The fit takes all
quenches together; its standard error comes from resampling them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...data.lammps_files import read_thermo
from ...environment import deck_arguments, inputs_dir, run_lmp
from .context import Context, Study, StudyError, newer, pyplot, write_summary

PAPER_TF = 0.62
GLASS_FIT = (0.05, 0.30)  # well below the bend: the glass's own (harmonic) slope
LIQUID_FIT = (0.80, 1.40)  # the supercooled liquid above the bend
# other liquid ranges, to show how much T_f owes to the choice
LIQUID_ALTERNATIVES = ((0.70, 1.00), (1.00, 2.00))
QUENCHES = 24
EVERY = 20  # MD steps between thermo rows
BLOCK = 10  # thermo rows averaged into one point: T moves 0.05 across a block
BOOTSTRAP = 400  # resamples of the quenches for the standard error


def line(t: np.ndarray, pe: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    inside = (t >= span[0]) & (t <= span[1])
    if inside.sum() < 3:
        raise StudyError(f"s11: {inside.sum()} thermo rows with T in {span}: the quench did not cover it")
    return np.polyfit(t[inside], pe[inside], 1)


def crossing(t: np.ndarray, pe: np.ndarray, liquid_span=LIQUID_FIT) -> tuple[float, np.ndarray, np.ndarray]:
    glass, liquid = line(t, pe, GLASS_FIT), line(t, pe, liquid_span)
    return float((glass[1] - liquid[1]) / (liquid[0] - glass[0])), glass, liquid


def blocks(x: np.ndarray, n: int | None = None) -> np.ndarray:
    """Means of consecutive blocks of n rows: the instantaneous temperature of 265 atoms
    scatters by ~5%, which would flatten a fitted slope (errors in the variable fitted against)."""
    n = n or BLOCK
    m = len(x) // n
    return x[: m * n].reshape(m, n).mean(axis=1)


def quench_logs(ctx: Context) -> list[Path]:
    folder = ctx.data / "studies" / "s11"
    deck = inputs_dir() / "lj_glass_fictive.in"
    logs = [folder / f"quench_{i:02d}.log" for i in range(QUENCHES)]
    if ctx.rerun or not all(newer(p, deck) for p in logs):
        ctx.say(f"s11: {QUENCHES} LJ quenches 3.0 -> 0.05 ({deck.name}) -> {folder}")
        run = run_lmp(deck_arguments(deck, {"inputs": inputs_dir(), "out": folder, "ntraj": QUENCHES, "every": EVERY}
                                           | ctx.deck))
        if run.error:
            raise StudyError(f"s11: {deck} failed: {run.error}")
    return logs


def run(ctx: Context) -> dict:
    quenches = []
    for path in quench_logs(ctx):
        th = read_thermo(path.read_text(), ("step", "temp", "pe"))
        quenches.append(dict(log=str(path), temp=blocks(th["temp"]).tolist(), pe=blocks(th["pe"]).tolist()))
    t_all = np.concatenate([q["temp"] for q in quenches])
    pe_all = np.concatenate([q["pe"] for q in quenches])
    pooled, glass, liquid = crossing(t_all, pe_all)
    # one quench's crossing is too noisy to average (the two slopes differ by a few %): resample quenches
    rng = np.random.default_rng(0)
    resampled = []
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, len(quenches), len(quenches))
        resampled.append(crossing(np.concatenate([quenches[i]["temp"] for i in pick]),
                                  np.concatenate([quenches[i]["pe"] for i in pick]))[0])
    summary = dict(t_f_stderr=float(np.std(resampled, ddof=1)), t_f_pooled=pooled, glass_fit=glass.tolist(),
                   liquid_fit=liquid.tolist(), quenches=quenches, block_md_steps=EVERY * BLOCK,
                   glass_span=GLASS_FIT, liquid_span=LIQUID_FIT, paper=PAPER_TF,
                   alternatives=[dict(liquid_span=span, t_f=crossing(t_all, pe_all, span)[0])
                                 for span in LIQUID_ALTERNATIVES])
    return write_summary(STUDY.summary_path(ctx), summary)


def plot(ctx: Context, s: dict) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, q in enumerate(s["quenches"]):
        ax.plot(q["temp"], q["pe"], ".", ms=1.5, color="0.6",
                label=f"quenches (means over {s['block_md_steps']} MD steps)" if i == 0 else None)
    t = np.linspace(0.0, 1.6, 50)
    ax.plot(t, np.polyval(s["glass_fit"], t), "C0-", label=f"glass fit, T in {s['glass_span'][0]}-{s['glass_span'][1]}")
    ax.plot(t, np.polyval(s["liquid_fit"], t), "C3-",
            label=f"liquid fit, T in {s['liquid_span'][0]}-{s['liquid_span'][1]}")
    ax.axvline(s["t_f_pooled"], color="k", ls="--", label=f"T_f = {s['t_f_pooled']:.3f} (ours)")
    ax.axvline(s["paper"], color="C2", ls=":", label=f"T_f = {s['paper']} (paper)")
    ax.set_xlim(0, 1.6)
    low = min(min(q["pe"]) for q in s["quenches"])
    ax.set_ylim(low - 0.1, float(np.polyval(s["liquid_fit"], 1.6)) + 0.3)
    ax.set_xlabel("T (LJ units)")
    ax.set_ylabel("potential energy per atom")
    ax.set_title("Kob-Andersen LJ: melt quench at the ground truth's rate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ctx.figure(fig, "s11")


def section(s: dict, ctx: Context) -> list[str]:
    n = len(s["quenches"])
    values = [s["t_f_pooled"]] + [a["t_f"] for a in s["alternatives"]]
    return [f"## {STUDY.title}", "",
            f"`inputs/lj_glass_fictive.in`: {n} independent 265-atom Kob-Andersen liquids (seeds from 2026), "
            "equilibrated at T = 3.0, quenched by the ground truth's Nose-Hoover ramp at its rate (2.5e-4 per MD step, "
            "3.0 -> 0.5 in 10 000 steps) and continued to 0.05. Straight lines through the potential energy per atom "
            f"against the measured temperature, glass T in {s['glass_span'][0]}-{s['glass_span'][1]} and liquid T in "
            f"{s['liquid_span'][0]}-{s['liquid_span'][1]}, cross at T_f (points: means over {s['block_md_steps']} MD "
            "steps of one quench; the standard error from resampling the quenches).", "",
            "| | T_f |", "|---|---|",
            f"| ours, all quenches in one fit | {s['t_f_pooled']:.3f} +- {s['t_f_stderr']:.3f} |",
            *[f"| ours, all quenches, liquid T in {a['liquid_span'][0]}-{a['liquid_span'][1]} instead | {a['t_f']:.3f} |"
              for a in s["alternatives"]],
            f"| paper (ESI S11) | ~{s['paper']} |", "",
            f"Ours against the paper: T_f = {s['t_f_pooled']:.2f} +- {s['t_f_stderr']:.2f} against {s['paper']}, "
            f"and from {min(values):.2f} to {max(values):.2f} as the liquid's fit range moves: at this cooling rate "
            "and size the potential energy bends too little between the glass and the liquid for two straight lines "
            "to fix T_f well (the liquid's energy is curved in T, and the paper does not give its ranges).", "",
            f"![potential energy against temperature during the quench (ESI S11)]({plot(ctx, s)})", ""]


STUDY = Study("s11", "The glass's fictive temperature (paper ESI S11)", run, section)
