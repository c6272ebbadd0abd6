"""`python -m ogn_lammps.results studies`: run the supplement's studies and write their block
of docs/results.md (between BEGIN and END), leaving the rest of the report as it was."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ...atomic import atomic_write_bytes
from ..heldout import HeldoutError
from ..validate import ValidateError
from . import depth, fictive, size, state_points
from .context import Context, StudyError

# order of the sections in the report
STUDIES = {study.name: study for study in (size.STUDY, state_points.TEMPERATURE, state_points.DENSITY, depth.STUDY,
                                           fictive.STUDY)}
BEGIN = "<!-- studies: written by python -m ogn_lammps.results studies; edits here are overwritten -->"
END = "<!-- studies: end -->"


def render(ctx: Context) -> list[str]:
    """The block from each study's last summary; a study never run says how to run it."""
    lines = [BEGIN, "", "# The supplement's studies (paper ESI S5-S8, S11)", "",
             "`python -m ogn_lammps.results studies` (or `--only s5 s6 ...`); each study's runs are kept under "
             f"`{ctx.work}/` and reused while newer than their inputs.", ""]
    for name, study in STUDIES.items():
        path = study.summary_path(ctx)
        if path.is_file():
            try:
                lines += study.section(json.loads(path.read_text()), ctx)
            except KeyError as err:  # a summary of an earlier version's format
                lines += [f"## {study.title}", "", f"`{path}` lacks {err} (an earlier version wrote it): "
                          f"`python -m ogn_lammps.results studies --only {name}` judges it again.", ""]
        else:
            lines += [f"## {study.title}", "", f"Not measured yet: `python -m ogn_lammps.results studies --only {name}`.",
                      ""]
    return lines + [END]


def splice(text: str, block: list[str]) -> str:
    """`text` with its studies block replaced by `block` (appended when it has none)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + "\n".join(block) + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"


def existing_block(doc: Path) -> list[str]:
    """The studies block of `doc` as it stands (empty when it has none)."""
    text = doc.read_text() if doc.is_file() else ""
    if BEGIN not in text or END not in text:
        return []
    return (BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END).split("\n")


def write(ctx: Context) -> None:
    ctx.img_dir.mkdir(parents=True, exist_ok=True)
    text = ctx.doc.read_text() if ctx.doc.is_file() else "# Results\n"
    atomic_write_bytes(ctx.doc, splice(text, render(ctx)).encode())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ogn_lammps.results studies",
                                description="The paper's supplementary studies (ESI S5-S8, S11) -> docs/results.md")
    p.add_argument("--only", nargs="+", choices=list(STUDIES), default=list(STUDIES), help="run these studies only")
    p.add_argument("--rerun", nargs="*", choices=list(STUDIES), default=[],
                   help="judge these studies again even where their runs are newer than their inputs")
    p.add_argument("--models", type=Path, default=Path("models"))
    p.add_argument("--data", type=Path, default=Path("data"), help="held-out and training data (made when missing)")
    p.add_argument("--work", type=Path, default=Path("results/studies"), help="runs and summaries")
    p.add_argument("--doc", type=Path, default=Path("docs/results.md"))
    p.add_argument("--configs", type=Path, default=Path("configs"))
    p.add_argument("--minutes", type=float, default=5.0, help="s8: training minutes per depth (default 5)")
    p.add_argument("--systems", nargs="+", default=[], help="s5: these systems (default: every shipped model)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.minutes <= 0:
        p.error(f"--minutes {args.minutes:g}: must be > 0")
    failed = []
    for name in args.only:
        ctx = Context(models=args.models, data=args.data, work=args.work, doc=args.doc, configs=args.configs,
                      rerun=name in args.rerun, quiet=args.quiet, minutes=args.minutes, systems=tuple(args.systems))
        ctx.say(f"{name}: {STUDIES[name].title}")
        try:
            STUDIES[name].run(ctx)
        except (StudyError, HeldoutError, ValidateError) as err:
            print(f"studies: {name}: error: {err}", file=sys.stderr)
            failed.append(name)
        write(ctx)  # after each study, so an interrupted series keeps what it finished
    ctx.say(f"wrote {args.doc}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
