"""A user's own system, added as docs/systems.md says, and the cost planner against the deck it plans.

The walkthrough copies the repository (as a user's checkout), adds `lj_copy` (the LJ liquid under
a new name: registry entry, ground-truth deck and training config, each step of "Adding a
system"), and runs every tool from that folder with no environment variable set: the registry
listing, the ground truth, dataset, training, export, validate, results and the benchmark; then
the project's own registry and shipped-model tests, which must not fail for a system that has
no shipped model.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BIN, REPO, deck_env

pytestmark = pytest.mark.slow

NEW = "lj_copy"


def tool(args: list, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """A project command as a user types it, from `cwd`, in a user's shell environment."""
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=deck_env(), capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} in {cwd} failed ({proc.returncode}):\n"
                    f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def python(*args) -> list:
    return [sys.executable, *args]


def user_checkout(dest: Path) -> Path:
    """The repository's tracked (and new, not ignored) files, as a user's own checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def add_system(root: Path) -> None:
    """docs/systems.md, "Adding a system", steps 1-4, for a copy of the LJ liquid."""
    inputs = root / "inputs"
    # 1. the registry entry: every value that names the system changes
    entry = (inputs / "systems" / "lj.in").read_text()
    assert "index lj\n" in entry and 'title       string "Kob-Andersen LJ A80B20 liquid"' in entry
    entry = entry.replace("index lj\n", f"index {NEW}\n").replace('"Kob-Andersen LJ A80B20 liquid"',
                                                                   '"my LJ liquid"')
    (inputs / "systems" / f"{NEW}.in").write_text(entry)
    # 2. the force field: the LJ one is reused (forcefield lj)
    # 3. the ground-truth deck: the include, the output folder and system.json's literal strings
    deck = (inputs / "lj_ground_truth.in").read_text()
    for old, new in (("${inputs}/systems/lj.in", f"${{inputs}}/systems/{NEW}.in"),
                     ("index data/lj\n", f"index data/{NEW}\n"), ('"system": "lj"', f'"system": "{NEW}"')):
        assert old in deck, old
        deck = deck.replace(old, new)
    (inputs / f"{NEW}_ground_truth.in").write_text(deck)
    # 4. the training config, its dataset path the new system's
    config = (root / "configs" / "lj_fast.toml").read_text()
    assert 'dataset = "data/lj/dataset.h5"' in config
    (root / "configs" / f"{NEW}_fast.toml").write_text(config.replace("data/lj/", f"data/{NEW}/"))


def test_a_new_system_is_seen_by_every_tool_from_the_users_folder(tmp_path):
    root = user_checkout(tmp_path / "project")
    add_system(root)
    lmp = [BIN / "lmp", "-nocite", "-log", "none", "-screen", "none"]

    listing = tool(python("-m", "ogn_lammps.systems"), root)
    row = next(line for line in listing.stdout.splitlines() if line.startswith(NEW + " "))
    assert f"inputs/systems/{NEW}.in" in row, row
    assert f"system registry {root.resolve() / 'inputs' / 'systems'} (the current directory's inputs/)" \
        in listing.stderr, listing.stderr

    # ground truth at a reduced size, its held-out twin, datasets
    short = ["-var", "ntrain", 1, "-var", "neq", 300, "-var", "npre", 100, "-var", "nsteps", 110]
    tool(lmp + ["-in", f"inputs/{NEW}_ground_truth.in", "-var", "ntest", 1] + short, root)
    tool(lmp + ["-in", f"inputs/{NEW}_ground_truth.in", "-var", "out", f"data/{NEW}_heldout", "-var", "seed", 2026,
                "-var", "ntrain", 0, "-var", "ntest", 1] + short[2:], root)
    for folder in (f"data/{NEW}", f"data/{NEW}_heldout"):
        tool(python("-m", "ogn_lammps.dataset", folder), root)
    assert '"system": "lj_copy"' in (root / "data" / NEW / "system.json").read_text()

    # training from the new config, export to the user's own folder (not models/)
    tool(python("-m", "ogn_lammps.train", "--config", f"configs/{NEW}_fast.toml", "--out", f"runs/{NEW}",
                "--steps", 4, "--test-every", 4, "--quiet", "--calibration-inferences", 0), root)
    tool(python("-m", "ogn_lammps.export", f"runs/{NEW}/checkpoint.pt", "-o", f"mymodels/{NEW}_fast.pt"), root)

    # validate into the folder results reads, then results reuses it
    val = tool(python("-m", "ogn_lammps.validate", f"mymodels/{NEW}_fast.pt", "--data", f"data/{NEW}_heldout/dataset.h5",
                      "-o", f"work/{NEW}", "--starts", 1, "--horizon", 100, "--long", 20, "--long-runs", 1), root)
    assert "100 |" in val.stdout and "fix ogn (pair_style zero)" in val.stdout, val.stdout
    summary = (root / "work" / NEW / "summary.json").read_text()
    assert f'"system": "{NEW}"' in summary
    stamp = (root / "work" / NEW / "summary.json").stat().st_mtime
    tool(python("-m", "ogn_lammps.results", "--systems", NEW, "--models", "mymodels", "--data", "data",
                "--work", "work", "--doc", "report/results.md", "--starts", 1, "--long-runs", 1, "--long", 20,
                "--horizon", 100, "--no-loss-vs-k"), root)
    report = (root / "report" / "results.md").read_text()
    assert f"## my LJ liquid (`{NEW}`)" in report and f"| {NEW} | 5 | 100 |" in report, report[:3000]
    assert (root / "work" / NEW / "summary.json").stat().st_mtime == stamp  # validate's own run was reused

    # the benchmark: its own short ground truth and one-step model from the new deck and config
    bench = tool(python("benchmarks/fix_ogn.py", "--systems", NEW, "--sizes", 265, "--seconds", 0.5,
                        "--work", tmp_path / "bench", "--python-up-to", 0), root)
    assert re.search(rf"^{NEW}\s+265\s+5\s+1 ", bench.stdout, re.M), bench.stdout

    # the project's own tests in the user's folder: the new system has no shipped model and
    # no PAPER row, and that fails nothing
    tests = tool(python("-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/test_shipped_models.py::test_every_system_has_a_shipped_model",
                        "tests/test_systems.py", "tests/unit/test_registry.py"), root, timeout=900)
    assert re.search(r"\d+ passed", tests.stdout) and "failed" not in tests.stdout, tests.stdout[-2000:]


def test_the_planner_predicts_the_decks_time_within_30_percent(tmp_path):
    """`systems plan` at a reduced size against the wall time of that very deck (SW silicon)."""
    settings = dict(ntrain=1, ntest=1, neq=2000, npre=500, nsteps=500)
    options = [a for name, value in settings.items() for a in ("--var", name, value)]
    plan = tool(python("-m", "ogn_lammps.systems", "plan", "si", *options), tmp_path)
    predicted = float(re.search(r"the deck: 2 trajectories, \S+ atom-steps, ([\d.e+-]+) min wall", plan.stdout).group(1))
    deck = [BIN / "lmp", "-in", REPO / "inputs" / "si_ground_truth.in", "-nocite", "-log", "none", "-screen", "none",
            "-var", "inputs", REPO / "inputs", "-var", "out", tmp_path / "si"]
    deck += [a for name, value in settings.items() for a in ("-var", name, value)]
    start = time.perf_counter()
    tool(deck, tmp_path)
    measured = (time.perf_counter() - start) / 60
    assert (tmp_path / "si" / "test_00.dump.gz").is_file() and (tmp_path / "si" / "train_00.dump.gz").is_file()
    assert abs(predicted / measured - 1) < 0.3, f"planned {predicted:.3g} min, the deck took {measured:.3g} min"
