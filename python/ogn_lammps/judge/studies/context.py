"""What every study shares: where it reads and writes, how it says what it does, when a run
is reused, and the summary file it leaves."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ...atomic import atomic_write_bytes, save_figure
from ..validate import ValidateError, validate


class StudyError(RuntimeError):
    pass


@dataclass
class Context:
    models: Path = Path("models")  # the shipped models, <sys>_fast.pt
    data: Path = Path("data")  # held-out and training data; the studies' own under data/studies/
    work: Path = Path("results/studies")  # runs and summaries, <study>/summary.json
    doc: Path = Path("docs/results.md")
    configs: Path = Path("configs")
    rerun: bool = False
    quiet: bool = False
    minutes: float = 5.0  # S8: training minutes per depth
    systems: tuple[str, ...] = ()  # S5: which systems (empty: every one with a shipped model)
    # -var settings added to every deck a study runs (the tests shorten equilibration with them)
    deck: dict = field(default_factory=dict)

    @property
    def img_dir(self) -> Path:
        return self.doc.parent / "img" / "results"

    def image(self, path: Path) -> str:
        """A figure's link from the report."""
        return os.path.relpath(path, self.doc.parent)

    def figure(self, fig, name: str) -> str:
        """Lay out, save (docs/img/results/<name>.png, atomically) and close `fig`; its link."""
        fig.tight_layout()
        path = self.img_dir / f"{name}.png"
        save_figure(fig, path)
        return self.image(path)

    def say(self, message: str) -> None:
        if not self.quiet:
            print(f"studies: {message}", file=sys.stderr, flush=True)

    def model(self, system: str) -> Path:
        path = self.models / f"{system}_fast.pt"
        if not path.is_file():
            raise StudyError(f"no shipped model {path} (train it: python -m ogn_lammps.train --config "
                             f"configs/{system}_fast.toml --out runs/{system}_fast, then python -m ogn_lammps.export)")
        return path


@dataclass
class Study:
    name: str  # s5, s6, ...
    title: str  # the report's heading
    run: Callable[[Context], dict]  # makes (or reuses) the runs; returns the summary
    section: Callable[[dict, Context], list[str]]  # the report's lines, from the summary alone

    def summary_path(self, ctx: Context) -> Path:
        return ctx.work / self.name / "summary.json"


def newer(output: Path, *inputs: Path) -> bool:
    """Whether `output` exists and is newer than every input that exists."""
    return output.is_file() and all(output.stat().st_mtime > p.stat().st_mtime for p in inputs if p.exists())


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def diverged_step(message: str) -> int | None:
    """The MD step in fix ogn's stop message ("... at step 12 (MD step 120): the run has diverged")."""
    found = re.search(r"MD step (\d+)", message)
    return int(found.group(1)) if found else None


def validated(ctx: Context, model: Path, data: Path, out: Path, **settings) -> dict:
    """ogn_lammps.validate's summary of `model` on `data` in `out`, reused while newer than both
    (unless ctx.rerun). A run that stops, a diverging model, gives {"failed": its message,
    "diverged_md_step": N}, kept in out/failed.json and reused the same way."""
    summary, failed = out / "summary.json", out / "failed.json"
    if not ctx.rerun and newer(failed, model, data):
        return json.loads(failed.read_text())
    if ctx.rerun or not newer(summary, model, data):
        ctx.say(f"validate {model} on {data} -> {out}")
        try:
            validate(model, data, out, quiet=True, **settings)
        except ValidateError as err:
            return write_summary(failed, dict(failed=str(err)[:400], diverged_md_step=diverged_step(str(err))))
        failed.unlink(missing_ok=True)
    return json.loads(summary.read_text())


def write_summary(path: Path, summary: dict) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(summary, indent=1, default=_plain).encode())
    return summary


def _plain(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"{type(x).__name__} is not JSON")


def fmt(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def power_law(x, y) -> float:
    """The exponent p of y = a x^p, least squares in log-log; NaN with fewer than two points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])
