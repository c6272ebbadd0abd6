"""Export a training checkpoint as model.pt: TorchScript plus metadata.json (design §5).

    python -m ogn_lammps.export runs/lj_fast/checkpoint.pt -o model.pt
    python -m ogn_lammps.export runs/lj_fast/checkpoint.pt -o model64.pt --dtype float64
    python -m ogn_lammps.export --show model.pt          # print the metadata
    python -m ogn_lammps.export --add-domain data/lj/dataset.h5 model.pt   # record the training domain

The metadata records the model's training domain (train/domain.py; fix ogn's `domain`
keyword checks it) from the checkpoint's dataset, or from --domain-data; --no-domain leaves
it out. --add-domain writes it into an exported model (one exported before the domain
existed), the module unchanged.

model.pt is the only contract between Python and C++ (ogn_lammps.model_file owns its format;
docs/model.md gives the signatures). Before writing, the export runs the scripted and the
eager model, and the model stage by stage, on the configuration kept in the checkpoint and
stops unless they agree; the file is read back from memory, then written atomically.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import torch

from ..model import model_file
from ..model import build
from ..model.step import model_inputs
from ..model.model_file import DTYPES, ModelError
from . import checkpoint
from .domain import describe, training_domain

# Scripted and eager models run the same kernels; they may differ only by operation order.
AGREEMENT_RTOL = {"float32": 1e-5, "float64": 1e-12}


class ExportError(RuntimeError):
    pass


def load_checkpoint(path: str | Path) -> checkpoint.Checkpoint:
    """The checkpoint (train/checkpoint.py), loaded with weights_only=True (no arbitrary unpickling)."""
    try:
        return checkpoint.load(path)
    except ValueError as err:
        raise ExportError(str(err)) from None


def model_from_checkpoint(state: checkpoint.Checkpoint) -> torch.nn.Module:
    model = build(state.architecture, state.settings, state.facts)
    model.load_state_dict(state.model)
    return model.eval()


def metadata_for(state: checkpoint.Checkpoint, model: torch.nn.Module, dtype: str) -> dict:
    facts = state.facts
    extra = {
        "settings": state.settings,
        "trained_steps": state.step,
        "trained_minutes": round(state.elapsed / 60, 2),
        "test_loss": state.test_loss,
        "calibration": state.final,
        "dataset": facts["dataset"],
        "edges_per_atom": round(_edges_per_atom(state, facts["cutoff"]), 3),
    }
    # FLOPs of one forward pass per atom, on the training system's graph
    n_atoms = len(state.sample["types"])
    extra["flops_per_atom"] = round(model.flops(n_atoms, round(extra["edges_per_atom"] * n_atoms)) / n_atoms)
    return model_file.metadata(facts, state.architecture, model.program(), dtype, extra)


def _edges_per_atom(state: checkpoint.Checkpoint, cutoff: float) -> float:
    inputs = sample_inputs(state.sample, cutoff)
    return inputs[2].shape[1] / len(inputs[0])


def sample_inputs(sample: dict, cutoff: float) -> tuple[torch.Tensor, ...]:
    return model_inputs(sample["types"].numpy(), sample["positions"].numpy(), sample["velocities"].numpy(),
                        sample["box_lengths"].numpy(), cutoff)


def check_agreement(a: torch.Tensor, b: torch.Tensor, dtype: str, what: str) -> float:
    scale = float(torch.max(torch.abs(a))) or 1.0
    worst = float(torch.max(torch.abs(a - b)))
    if not torch.isfinite(b).all() or worst > AGREEMENT_RTOL[dtype] * scale:
        raise ExportError(f"{what}: outputs differ by {worst:.3g} (max |output| {scale:.3g}, allowed {AGREEMENT_RTOL[dtype]:g} relative)")
    return worst / scale


def staged(module, inputs: tuple[torch.Tensor, ...], stages: int) -> torch.Tensor:
    """The model run stage by stage, as fix ogn runs it on several ranks (one rank here)."""
    types, velocities, edge_index, edge_vectors = inputs
    nodes, edges = velocities, torch.zeros(0)
    for index in range(stages):
        nodes, edges = module.stage(index, types, nodes, edges, edge_index, edge_vectors)
    return module.finish(nodes)


def domain_for(meta: dict, dataset: str | Path, quiet: bool = False) -> dict:
    """The "domain" block for a model with metadata `meta`, measured on `dataset`."""
    from ..data.dataset import Dataset, DatasetError

    try:
        with Dataset(dataset) as data:
            found = (data.system, data.units, list(data.type_names))
    except (OSError, DatasetError) as err:
        raise ExportError(f"training domain: cannot read dataset {dataset}: {err}") from None
    expected = (meta["system"], meta["units"], list(meta["type_names"]))
    if found != expected:
        raise ExportError(f"training domain: dataset {dataset} holds {found[0]} ({found[1]} units, types "
                          f"{' '.join(found[2])}); the model is {expected[0]} ({expected[1]} units, types "
                          f"{' '.join(expected[2])})")
    try:
        domain = training_domain(dataset, meta["k"], meta["cutoff"])
    except ValueError as err:
        raise ExportError(f"training domain: {err}") from None
    if not quiet:
        print(f"export: training domain from {dataset} ({domain['measured']['frames']} frames, margins "
              + ", ".join(f"{k} {v:g}" for k, v in domain["margin"].items()) + "):\n"
              + describe(domain, meta["type_names"]), file=sys.stderr)
    return domain


def add_domain(model_path: str | Path, dataset: str | Path, output: str | Path | None = None,
               quiet: bool = False) -> dict:
    """Write `model_path` (or `output`) again with the training domain measured on `dataset`
    in its metadata; the TorchScript module is saved as it was loaded."""
    scripted, meta = model_file.load(model_path)
    meta = dict(meta, domain=domain_for(meta, dataset, quiet))
    model_file.save(scripted, meta, output or model_path)
    return meta


def export(checkpoint: str | Path, output: str | Path, dtype: str = "float32", quiet: bool = False,
           domain: bool = True, domain_data: str | Path | None = None) -> dict:
    """Write model.pt; returns its metadata. Raises ExportError without touching `output`.

    With `domain`, the metadata records the training domain measured on `domain_data`, or on
    the checkpoint's dataset; a missing dataset is an error that names --domain-data and
    --no-domain."""
    if dtype not in DTYPES:
        raise ExportError(f"dtype {dtype!r}: expected one of {sorted(DTYPES)}")
    state = load_checkpoint(checkpoint)
    model = model_from_checkpoint(state).to(DTYPES[dtype])
    metadata = metadata_for(state, model, dtype)
    if domain:
        source = Path(domain_data or metadata["dataset"])
        if not source.is_file():
            raise ExportError(f"training domain: the checkpoint's dataset {source} is not here; pass "
                              "--domain-data DATASET (the training data), or --no-domain")
        metadata["domain"] = domain_for(metadata, source, quiet)
    scripted = torch.jit.script(model)
    inputs = sample_inputs(state.sample, metadata["cutoff"])
    with torch.no_grad():
        eager_out = model(*inputs)
        script_out = scripted(*inputs)
        relative = check_agreement(eager_out, script_out, dtype, "TorchScript against eager model")
        check_agreement(script_out, staged(scripted, inputs, metadata["program"]["stages"]), dtype,
                        "stage by stage against forward()")
    # model_file.save reads the bytes back before it renames them into place
    data = model_file.save(scripted, metadata, output)
    reloaded, _ = model_file.read(io.BytesIO(data), str(output))
    with torch.no_grad():
        check_agreement(script_out, reloaded(*inputs), dtype, "saved model against TorchScript")
    if not quiet:
        print(
            f"export: {output}: {metadata['system']}, {metadata['architecture']}, k = {metadata['k']}, "
            f"timestep {metadata['timestep']:g} ({metadata['units']} units), cutoff {metadata['cutoff']}, {dtype}; "
            f"{metadata['flops_per_atom'] / metadata['edges_per_atom'] / 1e3:.1f} k FLOPs per ordered pair; "
            f"script/eager max relative difference {relative:.1e} on {len(inputs[0])} atoms",
            file=sys.stderr,
        )
    return metadata


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ogn_lammps.export", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", nargs="?", help="checkpoint.pt written by ogn_lammps.train")
    p.add_argument("-o", "--output", help="the model file to write (default model.pt; with --add-domain, the model itself)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    p.add_argument("--show", metavar="MODEL", help="print the metadata of an exported model and exit")
    p.add_argument("--domain-data", metavar="DATASET",
                   help="measure the training domain on this dataset (default: the checkpoint's [data] dataset)")
    p.add_argument("--no-domain", action="store_true", help="record no training domain (fix ogn then checks none)")
    p.add_argument("--add-domain", metavar="DATASET",
                   help="write the training domain measured on DATASET into the exported model given as the "
                   "positional argument (in place, or into -o when given)")
    args = p.parse_args(argv)
    try:
        if args.show:
            print(json.dumps(model_file.load(args.show)[1], indent=1))
            return 0
        if not args.checkpoint:
            p.error("a checkpoint is required (or --show MODEL)")
        if args.add_domain:
            add_domain(args.checkpoint, args.add_domain, args.output)
            return 0
        export(args.checkpoint, args.output or "model.pt", args.dtype, domain=not args.no_domain, domain_data=args.domain_data)
    except (ExportError, ModelError) as err:
        print(f"export: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
