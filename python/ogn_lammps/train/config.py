"""The training configuration: defaults, reading a TOML file against them, writing the
resolved configuration back, and the learning-rate schedule (paper Methods 4.4 v).

A config has [data] (dataset, k), [model] (architecture, cutoff and the architecture's own
keys: the fields of its Config dataclass) and [train]. Unknown keys and values of the wrong
type are errors that name the file, the section and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

from ..model import ARCHITECTURES, architecture

DEFAULTS = {
    "data": {"dataset": "data/lj/dataset.h5", "k": None},
    # plus the chosen architecture's own keys (its Config dataclass), checked in load_config
    "model": {"architecture": "ogn", "cutoff": None},
    "train": {
        "steps": 10_000_000,  # the paper's 1000 epochs of 10 000 configurations
        "minutes": 0.0,  # > 0: a time budget; the LR decays over it and training stops at its end
        "lr_start": 1e-4,
        "lr_end": 1e-6,
        "seed": 0,
        "batch_size": 1,
        # a random cubic symmetry per configuration per epoch (4.4 vii); "auto": only for
        # architectures that are not rotation-equivariant by construction
        "augment": "auto",
        # the fraction of training configurations replaced by a "pushforward" pair: the model's
        # own prediction from frame t (no gradient) as the input, frame t + 2k as the target, so
        # that it learns to correct the errors its rollouts make (the pushforward trick of
        # Brandstetter, Worrall and Welling, ICLR 2022); 0: one-step pairs only
        "pushforward": 0.0,
        "calibration_configs": 200,
        "test_every": 1000,
        "test_configs": 100,
        "log_every": 100,
        "checkpoint_minutes": 5.0,
        "graph_cache_mb": 2048,
        "device": "auto",
        "threads": 0,
    },
}


class TrainingError(RuntimeError):
    """A training run that cannot start or continue; the message says why."""


def model_defaults(name: str) -> dict:
    """The [model] keys and defaults of architecture `name`: its Config fields but n_types."""
    try:
        cls = architecture(name)
    except ValueError as err:
        raise TrainingError(str(err)) from None
    values = {"architecture": name, "cutoff": None}
    for field in fields(cls.Config):
        if field.name != "n_types":
            values[field.name] = field.default
    return values


def load_config(path: str | Path | None, architecture_name: str | None = None) -> dict:
    """DEFAULTS and the architecture's defaults updated by a TOML file; unknown keys are an error."""
    config = {section: dict(values) for section, values in DEFAULTS.items()}
    loaded = {}
    if path is not None:
        path = Path(path)
        try:
            loaded = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise TrainingError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as err:
            raise TrainingError(f"{path}: not valid TOML: {err}") from None
    name = architecture_name or loaded.get("model", {}).get("architecture", DEFAULTS["model"]["architecture"])
    if not isinstance(name, str) or name not in ARCHITECTURES:
        raise TrainingError(f"{path}: [model] architecture = {name!r}, expected one of {sorted(ARCHITECTURES)}")
    config["model"] = model_defaults(name)
    defaults = {section: dict(values) for section, values in config.items()}
    for section, values in loaded.items():
        if section not in config or not isinstance(values, dict):
            raise TrainingError(f"{path}: unknown section [{section}], expected one of {sorted(config)}")
        for key, value in values.items():
            if key not in config[section]:
                raise TrainingError(f"{path}: unknown key {key!r} in [{section}] for architecture {name!r}, "
                                    f"expected one of {sorted(config[section])}")
            if section == "model" and key == "architecture":
                continue
            config[section][key] = _checked(path, section, key, value, defaults[section][key])
    return config


# [section] key: (lowest allowed value, whether it is allowed): the values that would run
# silently wrong (a zero learning rate trains nothing, a zero batch crashes in torch)
BOUNDS = {("train", "steps"): (1, True), ("train", "batch_size"): (1, True), ("train", "lr_start"): (0, False),
          ("train", "lr_end"): (0, False), ("train", "minutes"): (0, True), ("train", "test_every"): (1, True),
          ("train", "log_every"): (1, True), ("train", "test_configs"): (1, True),
          ("train", "checkpoint_minutes"): (0, False)}


def check_values(config: dict, where: str) -> None:
    """TrainingError naming the key, its value and the bound for a value out of range."""
    for (section, key), (bound, inclusive) in BOUNDS.items():
        value = config.get(section, {}).get(key)
        if value is None or isinstance(value, str):
            continue
        if value < bound or (value == bound and not inclusive):
            relation = f">= {bound}" if inclusive else f"> {bound}"
            raise TrainingError(f"{where}: [{section}] {key} = {value!r}: must be {relation}")


def _checked(path, section: str, key: str, value, default):
    """The TOML value, if its type fits the default's (a quoted "false" is not a boolean)."""
    if default is None:
        expected = (int, float, str)
    elif default == "auto":
        if not (isinstance(value, bool) or value == "auto"):
            raise TrainingError(f"{path}: [{section}] {key} = {value!r}: expected true, false or \"auto\"")
        return value
    elif isinstance(default, bool):
        expected = (bool,)
    elif isinstance(default, (int, float)):
        expected = (int, float)
    else:
        expected = (str,)
    if isinstance(value, bool) and bool not in expected or not isinstance(value, expected):
        names = " or ".join(t.__name__ for t in expected)
        raise TrainingError(f"{path}: [{section}] {key} = {value!r}: expected {names}, got {type(value).__name__}")
    return value


def dump_config(config: dict) -> str:
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is None:
                continue
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")    # TOML, not Python
            elif isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            else:
                lines.append(f"{key} = {value!r}")
        lines.append("")
    return "\n".join(lines)


def learning_rate(step: int, train: dict, elapsed_s: float = 0.0) -> float:
    """Exponential decay from lr_start to lr_end (4.4 v): over the planned steps, or over the
    planned minutes when training has a time budget (the schedule then fits the budget)."""
    if train.get("minutes", 0) > 0:
        fraction = min(elapsed_s / (60.0 * train["minutes"]), 1.0)
    else:
        fraction = min(step / max(train["steps"], 1), 1.0)
    return train["lr_start"] * (train["lr_end"] / train["lr_start"]) ** fraction
