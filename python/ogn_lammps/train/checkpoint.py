"""checkpoint.pt, the training state: the one owner of its format (design §4).

Format 3 stores each fact once:

- `config`, the resolved configuration ([data] dataset and k, [model] architecture, cutoff
  and the architecture's settings, [train]);
- `system`, what the dataset says of the system (name, units, dt, type names, masses, the
  number of atoms);
- the progress (`step`, `elapsed` seconds, `test_loss`, `final`: what the end-of-training
  calibration measured, `finalized`: whether that calibration has run), the `model` and
  `optimizer` state dicts, and `sample`, one test configuration for the export's checks.

The architecture, its settings and the facts a model is built from (`Checkpoint.facts`:
system, k, cutoff, n_types, dataset) are derived from these. Format 2 kept `meta`,
`architecture` and `settings` beside `config`, the same facts two or three times; it is
still read, and its duplicates are dropped.

Checkpoints hold only tensors and plain values and are read with weights_only=True: a
checkpoint from elsewhere cannot run code.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import atomic_write_bytes

FORMAT = 3
# the system facts, as the dataset gives them (the rest of a model's facts is configuration)
SYSTEM_KEYS = ("system", "units", "dt", "type_names", "masses", "n_atoms")


@dataclass
class Checkpoint:
    config: dict
    system: dict
    model: dict
    optimizer: dict | None = None
    step: int = 0
    elapsed: float = 0.0
    test_loss: float = math.nan
    final: dict = field(default_factory=dict)
    finalized: bool = False
    sample: dict | None = None
    format: int = FORMAT  # the format it was read from

    @property
    def architecture(self) -> str:
        return self.config["model"]["architecture"]

    @property
    def settings(self) -> dict:
        return settings(self.config)

    @property
    def facts(self) -> dict:
        return facts(self.config, self.system)

    def state(self) -> dict:
        """The dict that torch.save writes (format 3)."""
        return {"format": FORMAT, "config": self.config, "system": self.system, "step": self.step,
                "elapsed": self.elapsed, "test_loss": self.test_loss, "final": self.final, "finalized": self.finalized, "model": self.model,
                "optimizer": self.optimizer, "sample": self.sample}


def settings(config: dict) -> dict:
    """The [model] settings of the architecture: all of [model] but `architecture` and `cutoff`."""
    return {key: value for key, value in config["model"].items() if key not in ("architecture", "cutoff")}


def facts(config: dict, system: dict) -> dict:
    """What a model and model.pt's metadata are built from: the system's facts, k, the
    cutoff, the number of types and the dataset."""
    return dict(system, k=int(config["data"]["k"]), cutoff=float(config["model"]["cutoff"]),
                n_types=len(system["type_names"]), dataset=str(Path(config["data"]["dataset"])))


def system_facts(facts: dict) -> dict:
    """The `system` part of a checkpoint from a dict that holds at least SYSTEM_KEYS."""
    return {key: facts[key] for key in SYSTEM_KEYS}


def save(path: str | Path, checkpoint: Checkpoint) -> None:
    """Serialize to memory, then write `path` atomically: a reader never sees half a file."""
    buffer = io.BytesIO()
    torch.save(checkpoint.state(), buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def from_state(state, where: str) -> Checkpoint:
    """A Checkpoint from a loaded dict of format 3 or 2; ValueError for anything else."""
    found = state.get("format") if isinstance(state, dict) else type(state).__name__
    if found == 2:
        # format 2: `meta` repeated the config's k, cutoff and dataset beside the system's facts,
        # and `architecture` and `settings` repeated [model]
        state = dict(state, system=system_facts(state["meta"]))
    elif found != FORMAT:
        raise ValueError(f"{where}: checkpoint format {found}, expected {FORMAT} (or 2)")
    return Checkpoint(config=state["config"], system=state["system"], model=state["model"],
                      optimizer=state.get("optimizer"), step=int(state["step"]), elapsed=float(state["elapsed"]),
                      test_loss=float(state.get("test_loss", math.nan)), final=dict(state.get("final") or {}),
                      # format 2 had no flag: a run with calibration results had finished it
                      finalized=bool(state.get("finalized", bool(state.get("final")))),
                      sample=state.get("sample"), format=found)


def load(path: str | Path) -> Checkpoint:
    """A training checkpoint, read without unpickling arbitrary objects (weights_only=True).
    ValueError for anything unusable."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated, foreign or code-carrying file
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ValueError(f"{path}: not a readable training checkpoint ({err.__class__.__name__}: {first})") from None
    return from_state(state, str(path))
