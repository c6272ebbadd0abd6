"""model.pt, the one contract between Python and fix ogn (design §5, docs/model.md).

A TorchScript module with one extra file, `metadata.json`. This module owns the format:
its version, the metadata written at export, and reading and checking a file. Export,
rollout, evaluate and validate use it; `ogn::load_model_file` in lammps_plugin/ogn_model.cpp mirrors it.

Format 2 adds `architecture` and `program`: how many stages the model runs and how wide the
per-node rows are that fix ogn sends to the ghost atoms' owners before each stage, so that a
new architecture needs no C++ change.
"""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..atomic import atomic_write_bytes

FORMAT_VERSION = 2
DTYPES = {"float32": torch.float32, "float64": torch.float64}
# every key fix ogn reads (ogn::load_model_file, lammps_plugin/ogn_model.cpp); the rest is documentation
REQUIRED = ("format_version", "architecture", "system", "units", "dt", "k", "timestep", "cutoff",
            "type_names", "masses", "n_types", "dtype", "program")
# read by the fix when present: the training domain (docs/fix_ogn.md), with these entries
OPTIONAL = ("domain",)
DOMAIN_KEYS = ("temperature", "density", "min_distance", "max_displacement")
SIGNATURE = ("forward(types int64 (N,) 1..n_types, velocities (N,3), edge_index int64 (2,E) [i; j], "
             "edge_vectors (E,3) = r_j - r_i) -> (N,6) [dr, dv] over k MD steps; "
             "stage(index, types, nodes, edges, edge_index, edge_vectors) -> (nodes, edges); finish(nodes) -> (N,6)")


class ModelError(RuntimeError):
    """A model file that cannot be used, or that does not match the system it is given."""


def metadata(system: dict, architecture: str, program: dict, dtype: str, extra: dict) -> dict:
    """metadata.json for a model of `architecture` trained on `system` (units, dt, k, cutoff, types, masses)."""
    meta = {
        "format_version": FORMAT_VERSION,
        "architecture": architecture,
        "system": system["system"],
        "units": system["units"],
        "dt": system["dt"],
        "k": system["k"],
        "timestep": system["k"] * system["dt"],
        "cutoff": system["cutoff"],
        "type_names": list(system["type_names"]),
        "masses": [float(m) for m in system["masses"]],
        "n_types": len(system["type_names"]),
        "dtype": dtype,
        "program": check_program(program, "model"),
        "signature": SIGNATURE,
        "ogn_lammps_version": __version__,
        "torch_version": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    meta.update(extra)
    return meta


def check_program(program, where: str) -> dict:
    """The `program` entry: {stages S >= 1, exchange: S widths >= 1, node_input: "velocities"}."""
    ok = (isinstance(program, dict) and isinstance(program.get("stages"), int) and program["stages"] >= 1
          and isinstance(program.get("exchange"), list) and len(program["exchange"]) == program["stages"]
          and all(isinstance(w, int) and w >= 1 for w in program["exchange"])
          and program.get("node_input") == "velocities")
    if not ok:
        raise ModelError(f"{where}: metadata program {program!r} is not {{stages: S, exchange: [S widths], "
                         f"node_input: velocities}}")
    return program


def strict_json(value):
    """`value` with every non-finite float as None: Python's json writes inf as `Infinity`, which
    is not JSON, and fix ogn's parser rejects the whole file (a calibration rollout that blew up
    records +inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


def save(scripted: torch.jit.ScriptModule, meta: dict, path: str | Path) -> bytes:
    """Serialize to memory, read it back and check it, then write `path` atomically. Non-finite
    numbers in `meta` are written as null."""
    meta = strict_json(meta)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer, _extra_files={"metadata.json": json.dumps(meta, indent=1, allow_nan=False)})
    buffer.seek(0)
    _, meta_back = read(buffer, "the serialized model")
    if meta_back != meta:
        raise ModelError("metadata.json did not survive the round trip")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return buffer.getvalue()


def read(source, name: str, device: str = "cpu") -> tuple[torch.jit.ScriptModule, dict]:
    """(module, metadata) from a path or file object; ModelError for anything unusable."""
    extra = {"metadata.json": ""}
    try:
        module = torch.jit.load(source, map_location=device, _extra_files=extra)
    except Exception as err:
        raise ModelError(f"{name}: not a TorchScript model written by ogn_lammps.export "
                         f"({str(err).splitlines()[0]})") from None
    if not extra["metadata.json"]:
        raise ModelError(f"{name}: TorchScript file without metadata.json; export it with python -m ogn_lammps.export")
    try:
        meta = json.loads(extra["metadata.json"])
    except json.JSONDecodeError as err:
        raise ModelError(f"{name}: metadata.json is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        found = meta.get("format_version") if isinstance(meta, dict) else type(meta).__name__
        raise ModelError(f"{name}: model format {found}, expected {FORMAT_VERSION}; re-export it with "
                         "python -m ogn_lammps.export")
    missing = [key for key in REQUIRED if key not in meta]
    if missing:
        raise ModelError(f"{name}: metadata.json lacks {', '.join(missing)}")
    check_program(meta["program"], name)
    for method in ("stage", "finish"):
        if not hasattr(module, method):
            raise ModelError(f"{name}: model has no {method}() method; re-export it with python -m ogn_lammps.export")
    module.eval()
    return module, meta


def load(path: str | Path, device: str = "cpu") -> tuple[torch.jit.ScriptModule, dict]:
    """(scripted model, metadata) from model.pt; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    return read(str(path), str(path), device)


def check_compatible(meta: dict, units: str, dt: float, type_names, masses, source: str) -> None:
    """Stop unless the model was trained on this kind of system; names expected and actual."""
    if meta["units"] != units:
        raise ModelError(f"model expects units {meta['units']}, {source} has {units}")
    if not np.isclose(meta["dt"], dt, rtol=1e-9):
        raise ModelError(f"model expects MD timestep {meta['dt']}, {source} has {dt}")
    if len(type_names) != meta["n_types"]:
        raise ModelError(f"model expects {meta['n_types']} atom types {meta['type_names']}, "
                         f"{source} has {len(type_names)} {list(type_names)}")
    if list(type_names) != list(meta["type_names"]):
        raise ModelError(f"model expects types {meta['type_names']}, {source} has {list(type_names)}")
    if not np.allclose(meta["masses"], masses, rtol=1e-6):
        raise ModelError(f"model expects masses {meta['masses']}, {source} has {[float(m) for m in masses]}")
