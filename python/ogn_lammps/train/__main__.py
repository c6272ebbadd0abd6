"""`python -m ogn_lammps.train`: the command line of the training loop (train/loop.py).

    python -m ogn_lammps.train --config configs/lj_fast.toml --out runs/lj_fast --minutes 60
    python -m ogn_lammps.train --out runs/lj_fast --resume     # continue after a stop

It reads the config, applies the command line's overrides, refuses values out of range by
name, and runs the Trainer; a TrainingError is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..model import ARCHITECTURES
from .config import TrainingError, check_values, load_config
from .loop import Trainer


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ogn_lammps.train", description=__doc__.splitlines()[0])
    p.add_argument("--config", help="TOML file (configs/<system>_<fast|reference>.toml)")
    p.add_argument("--data", help="dataset file (overrides [data] dataset)")
    p.add_argument("--out", required=True, help="folder for checkpoint.pt, log.csv, loss.png")
    p.add_argument("--steps", type=int, help="planned gradient steps (overrides [train] steps; sets the LR decay)")
    p.add_argument("--k", type=int, help="MD steps per inference (overrides [data] k)")
    p.add_argument("--architecture", choices=sorted(ARCHITECTURES), help="overrides [model] architecture")
    p.add_argument("--seed", type=int, help="overrides [train] seed")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="overrides [train] device")
    p.add_argument("--test-every", type=int, help="overrides [train] test_every")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt with its own config")
    p.add_argument("--stop-at", type=int, help="stop at this step (checkpoint saved; --resume goes on)")
    p.add_argument("--minutes", type=float, help="time budget in minutes (overrides [train] minutes): the LR decays "
                   "over it and training stops at its end (checkpoint saved)")
    p.add_argument("--stop-after", type=float, metavar="MINUTES",
                   help="stop after this wall time without changing the schedule (checkpoint saved; --resume goes on)")
    p.add_argument("--calibration-inferences", type=int, metavar="N",
                   help="structured OGN: calibrate the drag on rollouts of N inferences at the end of training "
                   "(overrides [model] calibration_inferences; allowed with --resume, where a finished run "
                   "only redoes its end-of-training calibration)")
    p.add_argument("--calibration-target", choices=["trend", "temperature"],
                   help="structured OGN: what the rollout calibration drives to zero (overrides [model] "
                   "calibration_target; allowed with --resume like --calibration-inferences)")
    p.add_argument("--calibration-starts", type=int, metavar="N",
                   help="structured OGN: test-split states the rollout calibration starts from (overrides "
                   "[model] calibration_starts, default 8; allowed with --resume like --calibration-inferences)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    try:
        config = load_config(args.config, args.architecture)
        overrides = {
            ("data", "dataset"): args.data,
            ("train", "steps"): args.steps,
            ("train", "minutes"): args.minutes,
            ("data", "k"): args.k,
            ("train", "seed"): args.seed,
            ("train", "device"): args.device,
            ("train", "test_every"): args.test_every,
        }
        if args.resume:
            given = [f"--{key.replace('_', '-')}" for (section, key), value in overrides.items() if value is not None]
            if args.config or given:
                raise TrainingError(f"--resume uses the checkpoint's own configuration; drop {args.config and '--config' or ''} {' '.join(given)}".strip())
        flags = {"--minutes": args.minutes, "--steps": args.steps, "--test-every": args.test_every,
                 "--stop-at": args.stop_at, "--stop-after": args.stop_after,
                 "--calibration-inferences": args.calibration_inferences,
                 "--calibration-starts": args.calibration_starts}
        for flag, value in flags.items():
            # --minutes 0 would silently mean no budget, and so [train] steps (10^7 in the configs)
            allowed = value is None or value > 0 or (value == 0 and flag == "--calibration-inferences")
            if not allowed:
                raise TrainingError(f"{flag} {value:g}: must be > 0" + (
                    " (omit it to train for [train] steps)" if flag == "--minutes" else ""))
        for (section, key), value in overrides.items():
            if value is not None:
                config[section][key] = value
        if not args.resume:
            check_values(config, args.config or "the default configuration")
        calibration = {key: value for key, value in (("calibration_inferences", args.calibration_inferences),
                                                     ("calibration_target", args.calibration_target),
                                                     ("calibration_starts", args.calibration_starts))
                       if value is not None}
        if not args.resume:
            config["model"].update(calibration)
        trainer = Trainer(config, Path(args.out), args.resume, calibration)
        return trainer.run(stop_at=args.stop_at, minutes=args.stop_after, quiet=args.quiet)
    except TrainingError as err:
        print(f"train: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
