"""fix ogn's training-domain guard (issue 30): per-type temperature, density, the closest pair
and the largest displacement against the ranges in metadata.json's "domain". Real `lmp`, the
shipped LJ model with a domain block written into its metadata here, on 1 and 2 ranks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from test_fix_ogn_misuse import MODEL, errors, metadata, with_metadata, lmp

# The LJ model learned T ~ 3.0 at rho = 1.2 (KA A80B20, 265 atoms: B's temperature from 53
# atoms fluctuates by about 0.35); wide bounds, so that a normal run stays inside.
DOMAIN = {"margin": 0.25, "temperature": [[1.8, 4.4], [1.5, 4.8]], "density": [1.1, 1.3],
          "min_distance": [[0.5, 0.5], [0.5, 0.5]], "max_displacement": 1.0}

HEAD = """
units lj
atom_style atomic
atom_modify map array
read_data {data}
pair_style zero 3.0
pair_coeff * *
timestep 0.025
"""
OUTSIDE = re.compile(r"WARNING: fix ogn: outside the training domain: (.*) at step (\d+) \(MD step \d+\)")


@pytest.fixture(scope="module")
def start(tiny_lj) -> Path:
    return tiny_lj / "equilibrated.data"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Path:
    return with_metadata(tmp_path_factory.mktemp("domain") / "guarded.pt", dict(metadata(), domain=DOMAIN))


def run(tmp_path: Path, start: Path, body: str, mpi: int = 0):
    deck = tmp_path / "in.domain"
    deck.write_text(HEAD.format(data=start) + body)
    proc = lmp(deck, tmp_path, mpi=mpi, check=False, timeout=300)
    return proc, proc.stdout + proc.stderr


def test_a_state_like_the_training_data_gives_no_warning(start, guarded, tmp_path):
    """And f_ID[t] is the kinetic temperature of type t: LAMMPS's compute temp of that type
    counts 3 N - 3 degrees of freedom, the guard 3 N."""
    proc, out = run(tmp_path, start, f"""group a type 1
group b type 2
compute ta a temp
compute tb b temp
fix ogn all ogn {guarded} 5
variable na equal count(a)
variable nb equal count(b)
thermo_style custom step f_ogn[1] f_ogn[2] c_ta c_tb v_na v_nb
thermo_modify format float %.10g
thermo 1
run 10
""")
    assert proc.returncode == 0, out[-2000:]
    assert "outside the training domain" not in out, out[-2000:]
    rows = [line.split() for line in out.splitlines()
            if re.fullmatch(r"\s*\d+(\s+[\d.]+){4}\s+\d+\s+\d+\s*", line)]
    assert len(rows) == 11, out[-2000:]
    for _, fa, fb, ta, tb, na, nb in rows:
        assert float(fa) == pytest.approx(float(ta) * (3 * int(na) - 3) / (3 * int(na)), rel=1e-7)
        assert float(fb) == pytest.approx(float(tb) * (3 * int(nb) - 3) / (3 * int(nb)), rel=1e-7)


CASES = {
    # 10x the training temperature
    "hot start": ("velocity all create 30.0 4928459 mom yes dist gaussian\n", "the temperature of type 1 is"),
    # two atoms 0.1 sigma apart (LAMMPS itself would lose them)
    "close atoms": ("set atom 2 x $(x[1]+0.1) y $(y[1]) z $(z[1])\n", "are 0.1 apart"),
    # half the density, in 5 steps
    "half density": ("fix d all deform 1 x scale 1.26 y scale 1.26 z scale 1.26 remap x\n",
                     "the number density is"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_leaving_the_domain_warns_within_five_inferences(start, guarded, tmp_path, case):
    setup, message = CASES[case]
    before, after = (setup, "") if "deform" not in setup else ("", setup)
    proc, out = run(tmp_path, start, f"{before}fix ogn all ogn {guarded} 5\n{after}run 5\n")
    assert proc.returncode == 0, out[-2000:]
    found = [(m.group(1), int(m.group(2))) for m in OUTSIDE.finditer(out)]
    assert any(message in what and step <= 5 for what, step in found), (found, out[-2000:])
    assert re.search(r"fix ogn: inferences outside the training domain: .* \(of 5\)", out), out[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("mpi", [0, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_domain_error_stops_there(start, guarded, tmp_path, case, mpi):
    setup, message = CASES[case]
    before, after = (setup, "") if "deform" not in setup else ("", setup)
    proc, out = run(tmp_path, start, f"{before}fix ogn all ogn {guarded} 5 domain error\n{after}run 5\n", mpi=mpi)
    assert proc.returncode > 0, out[-2000:]
    assert errors(out) and "fix ogn: outside the training domain: " in errors(out)[0], out[-2000:]
    assert message in errors(out)[0] and "(domain error)" in errors(out)[0], errors(out)


def test_domain_off_and_a_model_without_a_domain_stay_silent(start, guarded, tmp_path):
    hot = CASES["hot start"][0]
    proc, out = run(tmp_path, start, f"{hot}fix ogn all ogn {guarded} 5 domain off\nrun 3\n")
    assert proc.returncode == 0 and "outside the training domain" not in out, out[-2000:]
    bare = with_metadata(tmp_path / "bare.pt", {k: v for k, v in metadata().items() if k != "domain"})
    proc, out = run(tmp_path, start, f"{hot}fix ogn all ogn {bare} 5\nrun 3\n")
    assert proc.returncode == 0 and "outside the training domain" not in out, out[-2000:]
    assert "records no training domain" in out and "training domain checked" not in out


def test_the_shipped_model_knows_its_domain(start, tmp_path):
    """models/lj_fast.pt carries the domain export measured on its training data: a start like
    that data runs silently, the 10x hot start warns at the first inference."""
    proc, out = run(tmp_path, start, f"fix ogn all ogn {MODEL} 5 domain/every 2\nrun 6\n")
    assert proc.returncode == 0 and "outside the training domain" not in out, out[-2000:]
    assert "fix ogn: training domain checked every 2 inference(s), domain warn" in out, out[-2000:]
    proc, out = run(tmp_path, start, f"{CASES['hot start'][0]}fix ogn all ogn {MODEL} 5\nrun 3\n")
    found = OUTSIDE.findall(out)
    assert found and "the temperature of type 1 is" in found[0][0] and found[0][1] == "1", out[-2000:]


def test_a_bad_domain_block_is_refused(start, tmp_path):
    bad = with_metadata(tmp_path / "bad.pt", dict(metadata(), domain=dict(DOMAIN, temperature=[[1.0, 4.0]])))
    proc, out = run(tmp_path, start, f"fix ogn all ogn {bad} 5\nrun 1\n")
    assert proc.returncode > 0, out[-2000:]
    assert "gives domain temperatures for 1 types, the model has 2" in errors(out)[0], out[-2000:]
