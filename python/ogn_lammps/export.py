"""Export a training checkpoint as model.pt: TorchScript plus metadata.json (design §5).

    python -m ogn_lammps.export runs/lj_fast/checkpoint.pt -o model.pt
    python -m ogn_lammps.export runs/lj_fast/checkpoint.pt -o model64.pt --dtype float64
    python -m ogn_lammps.export --show model.pt          # print the metadata

model.pt is the only contract between Python and C++ (docs/model.md gives the signatures).
Before writing, the export runs the scripted and the eager model on the configuration kept in
the checkpoint and stops unless they agree; the file is written atomically and read back.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import torch

from . import __version__
from .graph import build_graph
from .model import OGN, ModelConfig
from .atomic import atomic_write_bytes
from .rollout import ModelError, load_model
from .train import CHECKPOINT_FORMAT

MODEL_FORMAT = 1
DTYPES = {"float32": torch.float32, "float64": torch.float64}
# Scripted and eager models run the same kernels; they may differ only by operation order.
AGREEMENT_RTOL = {"float32": 1e-5, "float64": 1e-12}


class ExportError(RuntimeError):
    pass


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a truncated or foreign file
        raise ExportError(f"{path}: not a readable training checkpoint ({err.__class__.__name__}: {err})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ExportError(f"{path}: checkpoint format {found}, expected {CHECKPOINT_FORMAT}")
    return state


def model_from_checkpoint(state: dict) -> OGN:
    model = OGN(ModelConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    return model.eval()


def metadata_for(state: dict, dtype: str) -> dict:
    meta = state["meta"]
    config = state["model_config"]
    return {
        "format_version": MODEL_FORMAT,
        "system": meta["system"],
        "units": meta["units"],
        "dt": meta["dt"],
        "k": meta["k"],
        "timestep": meta["k"] * meta["dt"],
        "cutoff": meta["cutoff"],
        "type_names": meta["type_names"],
        "masses": meta["masses"],
        "n_types": config["n_types"],
        "n_layers": config["n_layers"],
        "width": config["width"],
        "dtype": dtype,
        "trained_steps": state["step"],
        "test_loss": state.get("test_loss"),
        "dataset": meta["dataset"],
        "ogn_lammps_version": __version__,
        "torch_version": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "signature": "forward(types int64 (N,) 1..n_types, velocities (N,3), edge_index int64 (2,E) [i; j], "
        "edge_vectors (E,3) = r_j - r_i) -> (N,6) [dr, dv] over k MD steps",
    }


def sample_inputs(sample: dict, cutoff: float) -> tuple[torch.Tensor, ...]:
    edge_index, vectors = build_graph(sample["positions"], sample["box_lengths"], cutoff)
    return (
        torch.as_tensor(sample["types"], dtype=torch.int64),
        torch.as_tensor(sample["velocities"]),
        torch.as_tensor(edge_index),
        torch.as_tensor(vectors),
    )


def check_agreement(a: torch.Tensor, b: torch.Tensor, dtype: str, what: str) -> float:
    scale = float(torch.max(torch.abs(a))) or 1.0
    worst = float(torch.max(torch.abs(a - b)))
    if not torch.isfinite(b).all() or worst > AGREEMENT_RTOL[dtype] * scale:
        raise ExportError(f"{what}: outputs differ by {worst:.3g} (max |output| {scale:.3g}, allowed {AGREEMENT_RTOL[dtype]:g} relative)")
    return worst / scale


def export(checkpoint: str | Path, output: str | Path, dtype: str = "float32", quiet: bool = False) -> dict:
    """Write model.pt; returns its metadata. Raises ExportError without touching `output`."""
    if dtype not in DTYPES:
        raise ExportError(f"dtype {dtype!r}: expected one of {sorted(DTYPES)}")
    state = load_checkpoint(checkpoint)
    model = model_from_checkpoint(state).to(DTYPES[dtype])
    metadata = metadata_for(state, dtype)
    scripted = torch.jit.script(model)
    inputs = sample_inputs(state["sample"], metadata["cutoff"])
    with torch.no_grad():
        eager_out = model(*inputs)
        script_out = scripted(*inputs)
    relative = check_agreement(eager_out, script_out, dtype, "TorchScript against eager model")

    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer, _extra_files={"metadata.json": json.dumps(metadata, indent=1)})
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    # Read back from memory first, so that a file that cannot be loaded is never written.
    buffer.seek(0)
    reloaded, meta_back = load_model_bytes(buffer)
    with torch.no_grad():
        check_agreement(script_out, reloaded(*inputs), dtype, "saved model against TorchScript")
    if meta_back != metadata:
        raise ExportError("metadata.json did not survive the round trip")
    atomic_write_bytes(output, buffer.getvalue())
    if not quiet:
        print(
            f"export: {output}: {metadata['system']}, L = {metadata['n_layers']}, k = {metadata['k']}, "
            f"timestep {metadata['timestep']:g} ({metadata['units']} units), cutoff {metadata['cutoff']}, {dtype}; "
            f"script/eager max relative difference {relative:.1e} on {len(inputs[0])} atoms",
            file=sys.stderr,
        )
    return metadata


def load_model_bytes(source) -> tuple[torch.jit.ScriptModule, dict]:
    extra = {"metadata.json": ""}
    module = torch.jit.load(source, map_location="cpu", _extra_files=extra)
    return module, json.loads(extra["metadata.json"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ogn_lammps.export", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", nargs="?", help="checkpoint.pt written by ogn_lammps.train")
    p.add_argument("-o", "--output", default="model.pt")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    p.add_argument("--show", metavar="MODEL", help="print the metadata of an exported model and exit")
    args = p.parse_args(argv)
    try:
        if args.show:
            print(json.dumps(load_model(args.show)[1], indent=1))
            return 0
        if not args.checkpoint:
            p.error("a checkpoint is required (or --show MODEL)")
        export(args.checkpoint, args.output, args.dtype)
    except (ExportError, ModelError) as err:
        print(f"export: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
