"""The one-step loss against the stride k for the LJ liquid and its glass (paper Fig. 5C, ESI S9-S10).

    python -m ogn_lammps.loss_vs_k                                  # lj k = 1 5 10 20 40, lj_glass k = 5 10 20 40 80
    python -m ogn_lammps.loss_vs_k --systems lj --k 5 10 --minutes 2

For every (system, k) it trains the system's shipped configuration (`configs/<sys>_fast.toml`)
with that k for the same few minutes, from the same training data, and reads the final test
loss: the mean squared error of the one-step change over the data's own per-type spread at
that k, so that 1 is free flight (dv = 0) at every k. The paper finds the liquid's loss
rising steeply beyond k = 5-10 and the glass's beyond k = 10-20 (about 2x longer strides).

Each run lives in `<out>/<sys>_k<k>/` and is reused once finished; an interrupted one resumes
from its checkpoint. A run that ends worse than free flight (its training diverged) is
trained again with a third of the learning rate (`<sys>_k<k>_lr3/`), and the table says so. Writes `<out>/summary.json` and `<out>/loss_vs_k.png` atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from ..atomic import atomic_write_bytes, save_figure
from ..train import checkpoint
from ..train.config import dump_config, load_config

DEFAULT_K = {"lj": [1, 5, 10, 20, 40], "lj_glass": [5, 10, 20, 40, 80]}
DEFAULT_MINUTES = 2.0


class LossVsKError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"loss_vs_k: {message}", file=sys.stderr, flush=True)


def train_once(system: str, k: int, minutes: float, folder: Path, configs: Path, lr_factor: float = 1.0) -> dict:
    """Train (or resume, or reuse) one run; returns its final numbers."""
    path = folder / "checkpoint.pt"
    state = checkpoint.load(path) if path.is_file() else None
    # final.json is written by the end-of-training calibration, only once a run is complete
    finished = state is not None and (folder / "final.json").is_file()
    if not finished:
        config = configs / f"{system}_fast.toml"
        if not config.is_file():
            raise LossVsKError(f"{config}: no configuration for {system}")
        if lr_factor != 1.0:
            # the same configuration with a smaller learning rate, written beside the run
            settings = load_config(config)
            settings["train"]["lr_start"] *= lr_factor
            folder.mkdir(parents=True, exist_ok=True)
            config = folder / "config_in.toml"
            atomic_write_bytes(config, dump_config(settings).encode())
        cmd = [sys.executable, "-m", "ogn_lammps.train", "--out", str(folder), "--quiet"]
        if state is None:
            # the calibration on rollouts is for shipped models; the loss does not need it
            cmd += ["--config", str(config), "--k", str(k), "--minutes", str(minutes), "--calibration-inferences", "0"]
        else:
            cmd += ["--resume"]
        say(f"{system}, k = {k}: {'resume' if state is not None else 'train'} {minutes:g} min -> {folder}")
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / "train.log", (proc.stdout + proc.stderr).encode())
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no output"
            raise LossVsKError(f"{system}, k = {k}: training failed ({proc.returncode}); see {folder / 'train.log'}: "
                               f"{last}")
        state = checkpoint.load(path)
    return {"system": system, "k": k, "test_loss": state.test_loss, "steps": state.step,
            "minutes": round(state.elapsed / 60, 2), "dt": float(state.system["dt"]),
            "lr_start": float(state.config["train"]["lr_start"])}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..data import systems

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    # runs worse than free flight (their training fails at that k) sit on the line at 1
    for system in DEFAULT_K:
        these = sorted((r for r in rows if r["system"] == system), key=lambda r: r["k"])
        if not these:
            continue
        entry = systems.get(system)
        ok = [r for r in these if r["test_loss"] < 1.0]
        line, = ax.plot([r["k"] for r in ok], [r["test_loss"] for r in ok], "o-",
                        label=f"{entry.title} (T = {entry.temperature:g})")
        failed = [r["k"] for r in these if not r["test_loss"] < 1.0]
        if failed:
            ax.plot(failed, [1.0] * len(failed), "x", color=line.get_color(), markersize=9,
                    label=f"{system}: worse than free flight")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("k (MD steps per inference)")
    ax.set_ylabel("test loss (1 = free flight, dashed)")
    ax.set_title("one-step loss against the stride (paper Fig. 5C)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def run(systems: list[str], ks: dict[str, list[int]], minutes: float, out: Path, configs: Path) -> list[dict]:
    rows = []
    for system in systems:
        for k in ks[system]:
            row = train_once(system, k, minutes, out / f"{system}_k{k}", configs)
            if not row["test_loss"] < 1.0:
                # worse than free flight: the training diverged at this stride; once more with a
                # third of the learning rate, and both are reported
                say(f"{system}, k = {k}: test loss {row['test_loss']:.3g} (diverged); again with lr_start / 3")
                retry = train_once(system, k, minutes, out / f"{system}_k{k}_lr3", configs, lr_factor=1 / 3)
                retry["diverged_at_lr_start"] = row["lr_start"]
                retry["diverged_loss"] = row["test_loss"]
                row = retry
            rows.append(row)
            say(f"{system}, k = {k}: test loss {rows[-1]['test_loss']:.4g} after {rows[-1]['steps']} steps")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "summary.json", json.dumps({"minutes": minutes, "runs": rows}, indent=1).encode())
    plot(rows, out / "loss_vs_k.png")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ogn_lammps.loss_vs_k", description=__doc__.splitlines()[0])
    p.add_argument("--systems", nargs="+", default=list(DEFAULT_K), choices=list(DEFAULT_K))
    p.add_argument("--k", nargs="+", type=int, help="strides (default: per system, see above)")
    p.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, help="training minutes per run (default 2)")
    p.add_argument("--out", type=Path, default=Path("results/loss_vs_k"))
    p.add_argument("--configs", type=Path, default=Path("configs"))
    args = p.parse_args(argv)
    if args.minutes <= 0:
        p.error(f"--minutes must be positive, got {args.minutes}")
    if args.k and any(k < 1 for k in args.k):
        p.error(f"--k must be positive MD step counts, got {args.k}")
    ks = {s: args.k or DEFAULT_K[s] for s in args.systems}
    try:
        rows = run(args.systems, ks, args.minutes, args.out, args.configs)
    except LossVsKError as err:
        print(f"loss_vs_k: error: {err}", file=sys.stderr)
        return 2
    for r in rows:
        print(f"{r['system']:9s} k = {r['k']:3d}: test loss {r['test_loss']:.4g} ({r['steps']} steps, {r['minutes']} min)")
    print(f"wrote {args.out / 'summary.json'} and {args.out / 'loss_vs_k.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
