"""Misuse that fix ogn once ran silently, or ended in a torch exception with C++ frames
(issue 30): each now stops with one `ERROR: fix ogn: ...` line naming the expected and the
actual value, or gives correct statistics. Real `lmp`, the shipped LJ model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from conftest import INPUTS, REPO, lmp

MODEL = REPO / "models" / "lj_fast.pt"

HEAD = """
units lj
atom_style atomic
read_data {data}{extra}
pair_style zero 3.0
pair_coeff * *
timestep 0.025
"""


def metadata(model: Path = MODEL) -> dict:
    extra = {"metadata.json": ""}
    torch.jit.load(str(model), _extra_files=extra)
    return json.loads(extra["metadata.json"])


def with_metadata(out: Path, meta: dict, module=None) -> Path:
    """`module` (default: the shipped model) saved with `meta` as its metadata.json."""
    torch.jit.save(module if module is not None else torch.jit.load(str(MODEL)), str(out),
                   _extra_files={"metadata.json": json.dumps(meta)})
    return out


def run(tmp_path: Path, start: Path, body: str, extra: str = ""):
    deck = tmp_path / "in.misuse"
    deck.write_text(HEAD.format(data=start, extra=extra) + body)
    proc = lmp(deck, tmp_path, check=False, timeout=300)
    return proc, proc.stdout + proc.stderr


def errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("ERROR")]


@pytest.fixture(scope="module")
def start(tiny_lj) -> Path:
    return tiny_lj / "equilibrated.data"


def test_metadata_that_lies_about_the_types_is_refused(start, tmp_path):
    """Metadata saying 3 types on a model whose weights are for 2: before, the fused kernel read
    its per-type tables out of bounds, or torch threw with C++ frames."""
    # without the shipped model's domain block, whose 2 temperature ranges would be refused first
    meta = {key: value for key, value in metadata().items() if key != "domain"}
    lying = with_metadata(tmp_path / "lying.pt", dict(meta, n_types=3, masses=[1.0, 1.0, 1.0]))
    proc, out = run(tmp_path, start, f"mass 3 1.0\nfix ogn all ogn {lying} 5\nrun 2\n", " extra/atom/types 1")
    assert proc.returncode > 0, out[-2000:]
    assert errors(out) and "fix ogn: metadata.json in" in errors(out)[0], out[-2000:]
    assert "declares 3 atom types, the model's weights are for 2" in errors(out)[0]


@pytest.mark.parametrize("cutoff", [0.0, -1.0])
def test_a_cutoff_that_is_not_positive_is_refused(start, tmp_path, cutoff):
    bad = with_metadata(tmp_path / "cutoff.pt", dict(metadata(), cutoff=cutoff))
    proc, out = run(tmp_path, start, f"fix ogn all ogn {bad} 5\nrun 2\n")
    assert proc.returncode > 0, out[-2000:]
    assert f"declares a cutoff of {cutoff:g}, expected > 0" in out, out[-2000:]


class WrongShape(torch.nn.Module):
    """A TorchScript file that is not an exported model but has its methods' names."""

    def forward(self, types, velocities, edge_index, edge_vectors):
        return velocities[edge_index[0]]    # (E, 3), not (N, 6)

    @torch.jit.export
    def stage(self, s: int, types, nodes, edges, edge_index, edge_vectors):
        return nodes, edges

    @torch.jit.export
    def finish(self, nodes):
        return nodes


class Throws(WrongShape):
    def forward(self, types, velocities, edge_index, edge_vectors):
        return velocities[types + 1000000]    # an index error inside torch


@pytest.mark.parametrize("module, message", [
    (WrongShape, r"returned \[dr, dv\] of shape \[\d+, 3\], expected \(\d+, 6\)"),
    (Throws, r"failed in its inference: (RuntimeError: )?index 1000001 is out of bounds"),
])
def test_a_foreign_model_with_copied_metadata_stops_with_a_fix_ogn_line(start, tmp_path, module, message):
    """Before: garbage steps read from a tensor of the wrong shape, or an uncaught torch
    exception with C++ frames."""
    foreign = with_metadata(tmp_path / "foreign.pt", metadata(), torch.jit.script(module()))
    proc, out = run(tmp_path, start, f"fix ogn all ogn {foreign} 5\nrun 2\n")
    assert proc.returncode > 0, out[-2000:]
    assert errors(out), out[-2000:]
    assert re.search(r"fix ogn: model \S+foreign.pt " + message, errors(out)[0]), errors(out)
    # one line, no C++ frames
    assert "frame #" not in out and "Exception raised from" not in out, out[-2000:]


def test_two_fix_ogn_on_disjoint_groups_are_refused(start, tmp_path):
    """Before: in one process the second fix saw atoms the first had moved (T 2.9 -> 24.5)."""
    proc, out = run(tmp_path, start, f"""group a type 1
group b type 2
fix one a ogn {MODEL} 5
fix two b ogn {MODEL} 5
run 2
""")
    assert proc.returncode > 0, out[-2000:]
    assert errors(out) and "is a second fix ogn (group" in errors(out)[0], out[-2000:]


def test_minimize_leaves_the_inference_statistics_alone(start, tmp_path):
    """minimize calls post_run() without setup(): the counters were read uninitialized
    ('388278072 inferences ... model -0.000 ms')."""
    proc, out = run(tmp_path, start, f"""fix ogn all ogn {MODEL} 5
pair_style lj/cut 2.5
pair_coeff * * 1.0 1.0
minimize 0 0 5 10
run 3
""")
    assert proc.returncode == 0, out[-2000:]
    counts = [int(n) for n in re.findall(r"fix ogn: (\d+) inferences", out)]
    assert counts == [3], out[-3000:]


@pytest.mark.parametrize("gjf", ["vhalf", "vfull"])
def test_langevin_gjf_is_refused(start, tmp_path, gjf):
    """Documented as unsupported but accepted: it heated silently (T 2.97 -> 4.53)."""
    proc, out = run(tmp_path, start, f"""fix ogn all ogn {MODEL} 5
fix th all langevin 3.0 3.0 0.5 48279 gjf {gjf}
run 2
""")
    assert proc.returncode > 0, out[-2000:]
    assert errors(out) and "fix ogn: fix th (langevin) uses gjf" in errors(out)[0], out[-2000:]


def test_langevin_without_gjf_still_runs(start, tmp_path):
    proc, out = run(tmp_path, start, f"""fix ogn all ogn {MODEL} 5
fix th all langevin 3.0 3.0 0.5 48279
run 2
""")
    assert proc.returncode == 0 and not errors(out), out[-2000:]


def test_the_ogn_deck_takes_a_model_path_with_spaces(start, tmp_path):
    """Before: `-var model "path with spaces"` stopped with 'Expected integer parameter'."""
    folder = tmp_path / "my models"
    folder.mkdir()
    model = folder / "lj fast.pt"
    shutil.copy(MODEL, model)
    proc = lmp(INPUTS / "ogn.in", tmp_path, check=False, system="lj", model=model, data=start,
               out=tmp_path / "out", ninf=2)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-2000:]
    assert f"fix ogn: model {model} (impulse for lj" in out and "fix ogn: 2 inferences" in out, out[-2000:]


def test_a_missing_model_variable_is_named(start, tmp_path):
    proc, out = run(tmp_path, start, "fix ogn all ogn v_nosuch 5\nrun 2\n")
    assert proc.returncode > 0, out[-2000:]
    assert errors(out) and "fix ogn: variable nosuch for the model file does not exist" in errors(out)[0], out
