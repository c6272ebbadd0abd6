"""Train a learned step on a dataset file (paper Methods 4.4; design §4).

    python -m ogn_lammps.train --config configs/lj_fast.toml --out runs/lj_fast --minutes 60
    python -m ogn_lammps.train --config configs/lj_ogn_fast.toml --data data/lj/dataset.h5 \\
        --out runs/lj_ogn --steps 9000
    python -m ogn_lammps.train --out runs/lj_fast --resume     # continue after a stop

`[model] architecture` picks the model (ogn_lammps.model: "impulse", the structured
OGN, or "ogn", the paper's). A training pair is (frame t, frame t + k) of one training
trajectory: the input is the frame-t graph, the target the step's inverse
(model/step.py). `batch_size` configurations per gradient step, Adam with the
learning rate decaying exponentially from lr_start to lr_end over the planned steps, or over
the planned minutes when `--minutes` (or `[train] minutes`) gives a time budget. The loss is
the architecture's own (train/objectives.py). Models that are not rotation-equivariant see
each configuration under one random cubic symmetry per epoch.

Writes into --out: checkpoint.pt (atomically, every few minutes, at the end, and on SIGINT /
SIGTERM), log.csv, loss.png and config.toml (the resolved configuration).
"""

from __future__ import annotations

import csv
import io
import json
import math
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write_bytes, save_figure
from ..data.dataset import Dataset
from ..model import build
from ..model.step import advance
from ..model.symmetry import CUBIC_SYMMETRIES
from . import checkpoint
from .objectives import objective
from .config import DEFAULTS, TrainingError, dump_config, learning_rate, model_defaults
from .pairs import Pairs, Sample, collate

LOG_FIELDS = ["step", "epoch", "lr", "train_loss", "test_loss", "wall_s", "configs_per_s"]


# --------------------------------------------------------------------------- training


class Trainer:
    def __init__(self, config: dict, out: Path, resume: bool, calibration: dict | None = None):
        self.out = out
        self.checkpoint_path = out / "checkpoint.pt"
        state = None
        if resume:
            if not self.checkpoint_path.is_file():
                raise TrainingError(f"--resume: no checkpoint at {self.checkpoint_path}")
            try:
                state = checkpoint.load(self.checkpoint_path)
            except ValueError as err:
                raise TrainingError(str(err)) from None
            config = state.config
            # a checkpoint from before a [train] key existed runs with that key's default
            for key, value in DEFAULTS["train"].items():
                config["train"].setdefault(key, value)
            # settings that change only the end-of-training calibration, not the schedule
            for key, value in (calibration or {}).items():
                if key not in model_defaults(config["model"]["architecture"]):
                    raise TrainingError(f"--{key.replace('_', '-')}: architecture "
                                        f"{config['model']['architecture']!r} has no such setting")
                config["model"][key] = value
        elif self.checkpoint_path.exists():
            raise TrainingError(
                f"{self.checkpoint_path} exists: pass --resume to continue it, or choose another --out"
            )
        self.config = config
        train = config["train"]
        self.train_cfg = train
        if train["threads"]:
            torch.set_num_threads(int(train["threads"]))
        self.device = self._device(train["device"])

        dataset_path = Path(config["data"]["dataset"])
        if not dataset_path.is_file():
            raise TrainingError(
                f"{dataset_path}: dataset file not found; build it with python -m ogn_lammps.dataset DIR"
            )
        with Dataset(dataset_path) as ds:
            k = config["data"]["k"]
            k = int(ds.info.get("k", 1) if k is None else k)
            cutoff = config["model"]["cutoff"]
            cutoff = float(ds.info["cutoff"] if cutoff is None else cutoff)
            if cutoff <= 0:
                raise TrainingError(f"cutoff must be positive, got {cutoff}")
            config["data"]["k"], config["model"]["cutoff"] = k, cutoff
            # what the model and model.pt's metadata need to know of the system
            # what the dataset says of the system; with k and the cutoff of the config, what the
            # model and model.pt's metadata are built from (train/checkpoint.py derives both)
            self.system = {"system": ds.system, "units": ds.units, "dt": ds.dt, "type_names": list(ds.type_names),
                           "masses": [float(m) for m in ds.masses], "n_atoms": int(len(ds.types))}
            self.meta = checkpoint.facts(config, self.system)
            self.train_pairs = Pairs(ds, "train", k, cutoff, train["graph_cache_mb"])
            self.test_pairs = Pairs(ds, "test", k, cutoff, train["graph_cache_mb"] / 8)
        if state is not None and state.facts["dataset"] != self.meta["dataset"]:
            raise TrainingError(f"--resume: checkpoint trained on {state.facts['dataset']}, config names {dataset_path}")
        n_test = min(int(train["test_configs"]), len(self.test_pairs))
        self.test_indices = np.linspace(0, len(self.test_pairs) - 1, n_test).round().astype(int)

        torch.manual_seed(int(train["seed"]))
        self.architecture = config["model"]["architecture"]
        self.settings = checkpoint.settings(config)
        try:
            self.model = build(self.architecture, self.settings, self.meta)
        except (TypeError, ValueError) as err:
            raise TrainingError(f"[model] settings for {self.architecture}: {err}") from None
        self.model.to(self.device)
        # the loss, the fitted scales and the calibration of this architecture (train/objectives.py)
        self.objective = objective(self.model, self.meta)
        augment = train["augment"]
        if augment == "auto":
            augment = bool(self.model.wants_augmentation)
        elif not isinstance(augment, bool):
            raise TrainingError(f"[train] augment = {augment!r}: expected true, false or \"auto\"")
        self.augment = augment
        self.pushforward = float(train["pushforward"])
        if not 0.0 <= self.pushforward <= 1.0:
            raise TrainingError(f"[train] pushforward = {train['pushforward']!r}: expected a fraction from 0 to 1")
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=train["lr_start"])
        self.step = 0
        self.elapsed = 0.0
        self.test_loss = math.nan
        self.final: dict = {}
        self.finalized = False
        # a finished run resumed with calibration settings calibrates again; without, it is done
        self.recalibrate = bool(calibration) and resume
        if state is not None:
            self.model.load_state_dict(state.model)
            self.optimizer.load_state_dict(state.optimizer)
            self.step, self.elapsed, self.test_loss, self.final = state.step, state.elapsed, state.test_loss, state.final
            self.finalized = state.finalized
        else:
            self.objective.prepare(self.model, self.calibration_samples(self.train_pairs))
        self.batch_size = int(train["batch_size"])
        self.batches_per_epoch = math.ceil(len(self.train_pairs) / self.batch_size)
        self._stop_signal = None

    @staticmethod
    def _device(name: str) -> torch.device:
        if name == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if name == "cuda" and not torch.cuda.is_available():
            raise TrainingError("device cuda requested, but torch sees no CUDA device")
        return torch.device(name)

    # One permutation and one symmetry per pair per epoch, from (seed, epoch) alone, so that
    # a resumed run sees exactly the batches a straight run would have seen.
    # The pushforward choices are drawn last, so that pushforward = 0 leaves the plan unchanged.
    def epoch_plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([int(self.train_cfg["seed"]), epoch])
        order = rng.permutation(len(self.train_pairs))
        ops = rng.integers(0, len(CUBIC_SYMMETRIES), len(self.train_pairs))
        pushed = rng.random(len(self.train_pairs)) < self.pushforward
        return order, ops if self.augment else np.zeros_like(ops), pushed

    def batch(self, step: int) -> Sample:
        epoch, position = divmod(step, self.batches_per_epoch)
        if getattr(self, "_plan_epoch", None) != epoch:
            self._plan = self.epoch_plan(epoch)
            self._plan_epoch = epoch
        order, ops, pushed = self._plan
        chosen = order[position * self.batch_size:(position + 1) * self.batch_size]
        return collate([self.pushed_sample(int(p), int(ops[p])) if pushed[p] else
                        self.train_pairs.sample(int(p), int(ops[p])) for p in chosen])

    @torch.no_grad()
    def pushed_sample(self, pair: int, symmetry: int) -> Sample:
        """From the model's own prediction one inference after the pair's first frame, to the
        frame two inferences after it (model/step.py's advance and target): the pair
        as it will meet it in a rollout. A pair too close to its trajectory's end stays plain."""
        two = self.train_pairs.frame(pair, 2)
        if two is None:
            return self.train_pairs.sample(pair, symmetry)
        first = self.to_device(self.train_pairs.sample(pair))
        change = self.model(first.types, first.velocities, first.edge_index, first.edge_vectors)
        x0, v0 = self.train_pairs.frame(pair, 0)
        x1, v1 = advance(x0, v0, change.detach().to("cpu", torch.float64).numpy())
        return self.train_pairs.sample_from(x1, v1, *two, symmetry)

    def to_device(self, s: Sample) -> Sample:
        d = self.device
        return Sample(s.types.to(d), s.velocities.to(d), s.edge_index.to(d), s.edge_vectors.to(d), s.targets.to(d),
                      None if s.batch is None else s.batch.to(d))

    def calibration_samples(self, pairs: "Pairs") -> list[Sample]:
        """Evenly spaced pairs of a split, unrotated: for fitting scales and calibrating."""
        n = min(int(self.train_cfg["calibration_configs"]), len(pairs))
        return [self.to_device(pairs.sample(int(p))) for p in np.linspace(0, len(pairs) - 1, n).round().astype(int)]

    def rollout_starts(self, n: int = 8) -> list[dict]:
        """States of the dataset's test split, evenly spaced, for calibrations on rollouts, each
        with the split's mean sum of m v^2 (its temperature) as "reference_ke"."""
        p = self.test_pairs
        picks = np.linspace(0, len(p) - 1, min(n, len(p))).round().astype(int)
        masses = np.asarray(self.meta["masses"])[p.types.numpy() - 1][:, None]
        reference_ke = float(np.mean([np.mean([(masses * np.asarray(v[f]) ** 2).sum() for f in range(len(v))])
                                      for v in p.velocities]))
        return [{"types": p.types.numpy(), "positions": p.positions[t][f], "velocities": p.velocities[t][f],
                 "lengths": p.lengths, "reference_ke": reference_ke} for t, f in (p.index[i] for i in picks)]

    def train_step(self, step: int, elapsed_s: float = 0.0) -> float:
        s = self.to_device(self.batch(step))
        self.objective.observe(self.model, s)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(step, self.train_cfg, elapsed_s)
        loss = self.objective.loss(self.model, s)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def evaluate_test(self) -> float:
        losses = []
        for pair in self.test_indices:
            s = self.to_device(self.test_pairs.sample(int(pair)))
            losses.append(float(self.objective.loss(self.model, s)))
        return float(np.mean(losses))

    def sample_configuration(self) -> dict:
        """A test configuration kept in the checkpoint, for the export's eager/script check."""
        t, f = self.test_pairs.index[0]
        # tensors, not numpy arrays: the checkpoint must load with weights_only=True
        return {
            "types": self.test_pairs.types.clone(),
            "positions": torch.from_numpy(np.array(self.test_pairs.positions[t][f])),
            "velocities": torch.from_numpy(np.array(self.test_pairs.velocities[t][f])),
            "box_lengths": torch.from_numpy(np.array(self.test_pairs.lengths)),
        }

    def save_checkpoint(self) -> None:
        checkpoint.save(self.checkpoint_path, checkpoint.Checkpoint(
            config=self.config, system=self.system, model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(), step=self.step, elapsed=self.elapsed, test_loss=self.test_loss,
            final=self.final, finalized=self.finalized, sample=self.sample_configuration()))

    # ---------------------------------------------------------------- log and plot

    def read_log(self) -> list[dict]:
        path = self.out / "log.csv"
        if not path.is_file():
            return []
        with open(path, newline="") as fh:
            return [row for row in csv.DictReader(fh)]

    def write_log(self, rows: list[dict]) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, LOG_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(self.out / "log.csv", text.getvalue().encode())

    def plot(self, rows: list[dict]) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        def series(key):
            pts = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in ("", None)]
            return [p[0] for p in pts], [p[1] for p in pts]

        fig, ax = plt.subplots(figsize=(6, 4))
        for key, label in (("train_loss", "train (running mean)"), ("test_loss", "test")):
            x, y = series(key)
            if x:
                ax.plot(x, y, "-" if key == "train_loss" else "o-", label=label, ms=3)
        ax.set_yscale("log")
        ax.set_xlabel("gradient step (one configuration each)")
        ax.set_ylabel("standardized MSE loss")
        m = self.meta
        ax.set_title(f"{m['system']}: {self.architecture}, k = {m['k']}")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        save_figure(fig, self.out / "loss.png")

    # ---------------------------------------------------------------- main loop

    def _on_signal(self, signum, frame):
        self._stop_signal = signum

    def _interrupt(self, signum, frame):
        """During the calibration: stop at once (it has no state worth a checkpoint)."""
        self._stop_signal = signum
        raise _Interrupted(signum)

    def finished(self) -> bool:
        train = self.train_cfg
        return self.step >= int(train["steps"]) or (train["minutes"] > 0 and self.elapsed >= 60 * train["minutes"])

    def run(self, stop_at: int | None = None, minutes: float | None = None, quiet: bool = False) -> int:
        from tqdm import tqdm

        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.out / "config.toml", dump_config(self.config).encode())
        train = self.train_cfg
        total = int(train["steps"])
        end = min(total, stop_at) if stop_at else total
        if self.finished() and self.finalized and not self.recalibrate:
            print(f"train: {self.out} is finished (step {self.step} of {total}, {self.elapsed / 60:.1f} min) and "
                  "calibrated; nothing to do. To calibrate it again, resume with --calibration-inferences, "
                  "--calibration-target or --calibration-starts", file=sys.stderr)
            return 0
        rows = [r for r in self.read_log() if int(r["step"]) <= self.step]
        self.write_log(rows)
        old_handlers = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        m = self.meta
        print(
            f"train: {m['system']} {self.architecture} {self.settings}, k = {m['k']}, "
            f"cutoff {m['cutoff']}, {len(self.train_pairs)} training pairs, {len(self.test_indices)} test pairs, "
            f"device {self.device}, steps {self.step} -> {end} of {total}",
            file=sys.stderr,
            flush=True,
        )
        started = time.monotonic()
        run_start = last_save = started
        interval_losses: list[float] = []
        interval_start = time.monotonic()
        # A redirected log gets a line every 30 s instead of a redraw per step.
        interactive = sys.stderr.isatty()
        # Under a time budget the bar counts the budget's seconds and shows the minutes left
        # (a step ETA would count towards [train] steps, 10^7 in the configs); else the steps.
        budget = 60.0 * train["minutes"] if train["minutes"] > 0 else 0.0
        if budget:
            bar = tqdm(total=round(budget), initial=round(min(self.elapsed, budget)), disable=quiet, unit="s",
                       dynamic_ncols=True, file=sys.stderr, mininterval=0.5 if interactive else 30.0,
                       bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s of the time budget{postfix}")
        else:
            bar = tqdm(total=end, initial=self.step, disable=quiet, unit="step", dynamic_ncols=True, file=sys.stderr,
                       mininterval=0.5 if interactive else 30.0)

        def progress(now: float) -> None:
            if budget:
                spent = min(self.elapsed + now - started, budget)
                bar.update(spent - bar.n)
                tested = f", test loss {self.test_loss:.3g}" if math.isfinite(self.test_loss) else ""
                bar.set_postfix_str(f"{(budget - spent) / 60:.1f} min left, step {self.step}{tested}", refresh=False)
            else:
                bar.update(1)
        try:
            while self.step < end:
                if train["minutes"] > 0 and self.elapsed + time.monotonic() - started >= 60 * train["minutes"]:
                    break  # a resumed run whose time budget is spent: only the end-of-training work
                loss = self.train_step(self.step, self.elapsed + time.monotonic() - started)
                if not math.isfinite(loss):
                    raise TrainingError(
                        f"training loss became {loss} at step {self.step}; the last checkpoint "
                        f"({self.checkpoint_path}) is from before it"
                    )
                self.step += 1
                interval_losses.append(loss)
                now = time.monotonic()
                progress(now)
                test_now = self.step % int(train["test_every"]) == 0 or self.step == end
                if test_now:
                    self.test_loss = self.evaluate_test()
                if self.step % int(train["log_every"]) == 0 or test_now:
                    speed = len(interval_losses) * self.batch_size / max(now - interval_start, 1e-9)
                    rows.append(self._row(float(np.mean(interval_losses)), speed,
                                          self.test_loss if test_now else None, self.elapsed + now - started))
                    interval_losses, interval_start = [], time.monotonic()
                    if not budget:
                        bar.set_postfix(loss=rows[-1]["train_loss"], test=f"{self.test_loss:.3g}",
                                        lr=f"{learning_rate(self.step, train, self.elapsed + now - started):.2g}")
                    self.write_log(rows)
                    if test_now:
                        self.plot(rows)
                stop_time = (minutes is not None and now - run_start >= minutes * 60) or (
                    train["minutes"] > 0 and self.elapsed + now - started >= 60 * train["minutes"])
                if now - last_save >= float(train["checkpoint_minutes"]) * 60 or self._stop_signal or stop_time:
                    self.elapsed += now - started
                    started = now
                    self.save_checkpoint()
                    last_save = now
                if self._stop_signal or stop_time:
                    break
            if not self._stop_signal:
                self.elapsed += time.monotonic() - started
                started = time.monotonic()
                if self.finished() and (not self.finalized or self.recalibrate):
                    # the finished training is kept before its calibration, which a signal stops
                    # at once; --resume then runs only the calibration
                    self.finalized = False
                    self.save_checkpoint()
                    self.write_log(rows)
                    bar.close()
                    print(f"train: training done at step {self.step}; the end-of-training calibration "
                          f"({self.architecture}) follows", file=sys.stderr, flush=True)
                    for sig in old_handlers:
                        signal.signal(sig, self._interrupt)
                    try:
                        if self._stop_signal:  # a signal that came between the two handlers
                            raise _Interrupted(self._stop_signal)
                        self.finalize()
                        self.finalized = True
                    except _Interrupted:
                        pass
                    finally:
                        for sig in old_handlers:
                            signal.signal(sig, self._on_signal)
                if not self._stop_signal:
                    self.save_checkpoint()
                    self.write_log(rows)
                    self.plot(rows)
        finally:
            bar.close()
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
        if self._stop_signal:
            name = signal.Signals(self._stop_signal).name
            what = ("during the end-of-training calibration: the finished training is saved in"
                    if self.finished() else f"at step {self.step}: checkpoint saved to")
            print(f"train: {name} {what} {self.checkpoint_path}; "
                  f"continue with --out {self.out} --resume", file=sys.stderr)
            return 128 + self._stop_signal
        finished = self.step >= total or (train["minutes"] > 0 and self.elapsed >= 60 * train["minutes"])
        state = "finished" if finished else "stopped"
        print(f"train: {state} at step {self.step} of {total}, test loss {self.test_loss:.4g}, "
              f"{self.elapsed / 60:.1f} min; checkpoint {self.checkpoint_path}", file=sys.stderr)
        return 0

    def finalize(self) -> None:
        """The architecture's end-of-training calibration on held-out pairs (the dataset's test
        split), e.g. the temperature bias per inference and its correction; logged and kept."""
        self.model.eval()
        self.final = self.objective.finalize(self.model, self.calibration_samples(self.test_pairs), self.rollout_starts(
            int(getattr(self.model.config, "calibration_starts", 8))))
        self.model.train()
        self.test_loss = self.evaluate_test()
        if self.final:
            text = ", ".join(f"{key} {value:.3g}" for key, value in self.final.items())
            print(f"train: end of training on {min(len(self.test_pairs), int(self.train_cfg['calibration_configs']))} "
                  f"held-out pairs: {text}", file=sys.stderr, flush=True)
            atomic_write_bytes(self.out / "final.json", json.dumps(self.final, indent=1).encode())

    def _row(self, train_loss, speed, test_loss, wall) -> dict:
        epoch = self.step / self.batches_per_epoch
        return {
            "step": self.step,
            "epoch": f"{epoch:.4f}",
            "lr": f"{learning_rate(self.step, self.train_cfg, wall):.4e}",
            "train_loss": "" if train_loss is None or math.isnan(train_loss) else f"{train_loss:.6g}",
            "test_loss": "" if test_loss is None else f"{test_loss:.6g}",
            "wall_s": f"{wall:.1f}",
            "configs_per_s": "" if math.isnan(speed) else f"{speed:.3f}",
        }


class _Interrupted(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
