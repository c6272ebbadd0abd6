"""The report of `python -m ogn_lammps.physics` (docs/physics.md): the acceptance checks of
issue 12, the tables per system and the NVT and NVE plots, from the summaries that
judge/physics.py's `study` returns. Kept apart from the runs so each file holds one job."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np

from ..atomic import save_figure
from .physics import FIT, LIMITS, SETTLE, VARIANTS, VDOS_LAGS


def _pct(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:+.{digits}f}%"


def _spread(x: float) -> str:
    return "" if not np.isfinite(x) else f"{100 * x:.1f}%"


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


NOT_MEASURED = "not measured (rerun physics)"


def _finite(x) -> bool:
    return x is not None and bool(np.isfinite(x))


def _rel(x: float, reference: float) -> float:
    return x / reference - 1.0 if _finite(x) and _finite(reference) and reference != 0 else float("nan")


def dynamics_rows(result: dict) -> list[tuple[str, list[str], str, str]]:
    """The section's rows of the dynamics (judge/dynamics.py) as (label, one cell per fix ogn
    variant, LAMMPS's cell, LAMMPS's spread): tau_alpha per type, or F_s at the longest lag for
    a type whose F_s does not reach 1/e in every mean, with the difference from LAMMPS and the
    spread of one run as D's row has; the VDOS overlap with LAMMPS per type. A summary from
    before these were measured (no such keys) gets rows that say so."""
    units, names = result["units"], result["type_names"]
    time_unit, length = ("tau", "sigma") if units == "lj" else ("ps", "A")
    comp, nvt = result["comparison"], result["nvt"]
    ogns = [nvt[f"nvt_{v}"] for v in VARIANTS]
    rows = []
    measured = "md_fs" in comp and all("fs" in o for o in ogns)
    for i, name in enumerate(names):
        if not measured:
            rows.append((f"tau_alpha of {name}", [NOT_MEASURED] * len(ogns), NOT_MEASURED, ""))
            continue
        q = comp["md_fs"]["q"]
        taus = [o["tau_alpha"][i] for o in ogns] + [comp["md_tau_alpha"][i]]
        if all(_finite(x) for x in taus):
            key, label = "tau_alpha", f"tau_alpha of {name} ({time_unit}; F_s = 1/e at q = {q:.3g}/{length})"
        else:
            key = "fs_last"
            label = (f"F_s of {name} at the longest lag ({comp['md_fs']['lag'][-1]:.3g} {time_unit}, "
                     f"q = {q:.3g}/{length}; it does not reach 1/e)")
        reference = comp[f"md_{key}"][i]
        rows.append((label, [f"{o[key][i]:.4g} ({_pct(_rel(o[key][i], reference))}; "
                             f"spread {_spread(o[f'{key}_spread'][i])})" for o in ogns],
                     f"{reference:.4g}", _spread(comp[f"md_{key}_spread"][i])))
    for i, name in enumerate(names):
        label = f"VDOS overlap of {name} with LAMMPS's (1 = identical)"
        overlaps = [comp["variants"][v].get("vdos_overlap") for v in VARIANTS]
        if "md_vdos_overlap_seeds" not in comp or any(x is None for x in overlaps):
            rows.append((label, [NOT_MEASURED] * len(ogns), NOT_MEASURED, ""))
        else:
            rows.append((label, [f"{x[i]:.3f}" for x in overlaps], f"{comp['md_vdos_overlap_seeds'][i]:.3f} (each seed)", ""))
    return rows


def checks(result: dict, variant: str = "ogn") -> list[tuple[str, str, bool]]:
    """(quantity, measured, met) against issue 12's acceptance, for one fix ogn variant."""
    ogn, comp = result["nvt"][f"nvt_{variant}"], result["comparison"]["variants"][variant]
    rows = [
        ("mean T against the target (<= 1%)", _pct(ogn["T_offset"], 2), abs(ogn["T_offset"]) <= LIMITS["temp"]),
        ("RDF L1 difference from LAMMPS (<= 2%)", f"{100 * comp['rdf_l1']:.2f}%", comp["rdf_l1"] <= LIMITS["rdf"]),
    ]
    for name, rel in zip(result["type_names"], comp["D_rel"]):
        rows.append((f"diffusion coefficient of {name} against LAMMPS (<= 10%)", _pct(rel),
                     abs(rel) <= LIMITS["diffusion"]))
    rows.append(("per-type temperatures against each other (<= 3%)", f"{100 * ogn['equipartition']:.2f}%",
                 ogn["equipartition"] <= LIMITS["equipartition"]))
    return rows


def energy_check(result: dict) -> tuple[str, str, bool]:
    energy = result["nve"]["nve_ogn_energy"]
    return ("NVE `energy yes`: max abs(E - E0) / abs(E0) (<= 1e-4)", f"{energy['energy_max_rel']:.1e}",
            energy["failure"] is None and energy["energy_max_rel"] <= 1e-4)


def section(result: dict, image_dir: Path, doc_dir: Path) -> str:
    s, units, names = result["system"], result["units"], result["type_names"]
    time_unit = "tau" if units == "lj" else "ps"
    nvt, comp, nve = result["nvt"], result["comparison"], result["nve"]
    lines = [f"## {s}: {result['title']}", "",
             f"Model `{result['model']}` (k = {result['k']}), start `{result['start']}`, "
             f"T = {result['T']:g}, thermostat `{result['thermostat']}` (damping 100 dt).", "",
             f"### NVT, {result['nvt_steps']} MD steps", "",
             "| | " + " | ".join(f"{VARIANTS[v][0]}, mean of {len(comp['variants'][v]['runs'])} seeds"
                                for v in VARIANTS)
             + f" | LAMMPS, mean of {len(comp['md_runs'])} seeds | LAMMPS, spread of one run |",
             "|---|" + "---|" * (len(VARIANTS) + 2)]
    ogns = [nvt[f"nvt_{v}"] for v in VARIANTS]
    md_t = comp["md_T"]

    def row(label: str, cells: list[str], md: str, spread: str = "") -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {md} | {spread} |")

    row(f"mean T (target {result['T']:g})", [f"{o['T']:.5g} ({_pct(o['T_offset'], 2)})" for o in ogns],
        f"{md_t:.5g} ({_pct(md_t / result['T'] - 1, 2)})")
    for i, name in enumerate(names):
        row(f"mean T of {name}", [f"{o['T_types'][i]:.4g}" for o in ogns], f"{comp['md_T_types'][i]:.4g}")
    if len(names) > 1:
        row("per-type T spread", [f"{100 * o['equipartition']:.2f}%" for o in ogns],
            f"{100 * comp['md_equipartition']:.2f}%")
    for i, name in enumerate(names):
        row(f"D of {name} ({'sigma^2/tau' if units == 'lj' else 'A^2/ps'})",
            [f"{o['D'][i]:.4g} ({_pct(comp['variants'][v]['D_rel'][i])}; spread {_spread(o['D_spread'][i])})"
             for v, o in zip(VARIANTS, ogns)],
            f"{comp['md_D'][i]:.4g}", _spread(comp["md_D_spread"][i]))
    for label, cells, md, spread in dynamics_rows(result):
        row(label, cells, md, spread)
    row("RDF L1 difference from the LAMMPS mean", [f"{100 * comp['variants'][v]['rdf_l1']:.2f}%" for v in VARIANTS],
        f"{100 * comp['rdf_l1_md_seeds']:.2f}% (each seed)")
    row("wall time per run", [f"{o['seconds']:.0f} s" for o in ogns],
        f"{np.mean([nvt[n]['seconds'] for n in comp['md_runs']]):.0f} s")
    lines += ["", f"All runs start from the same state and differ only in the thermostat's seed; a spread "
              "is the sample standard deviation of one run's D over the seeds, the noise of a single "
              "run at this size and length (that of a mean of n runs is about 1/sqrt(n) of it). D is the slope / 6 of the mean-square displacement averaged over "
              f"every time origin, fitted from {int(100 * FIT[0])}% to {int(100 * FIT[1])}% of the longest lag "
              f"(half the run). Temperature averages leave out the first {int(100 * SETTLE)}% of the run. "
              "F_s(q, t) is the self intermediate scattering function, averaged over every time origin "
              "and over the directions of q, at the first peak of S(q) of LAMMPS's mean g(r) (Lorch-"
              "windowed transform of g(r), which ends at the RDF's cutoff, so q is approximate); "
              "tau_alpha is where F_s falls to 1/e (where it does not within the longest lag, F_s there "
              "is compared). The VDOS is the Hann-windowed cosine transform of the normalized velocity "
              f"autocorrelation (every time origin) over its first {int(100 * VDOS_LAGS)}% of lags; the "
              "overlap is 1 - (1/2) integral |VDOS - VDOS_LAMMPS| df (1: the same spectrum), LAMMPS's "
              "column each seed's against the LAMMPS mean. Both come from the dump, sampled as the MSD, "
              "so the VACF is resolved no finer than that sampling.", "",
              "| acceptance | measured | |", "|---|---|---|"]
    for v in VARIANTS:
        lines += [f"| {VARIANTS[v][0]}: {q} | {x} | {_mark(ok)} |" for q, x, ok in checks(result, v)]
    q, x, ok = energy_check(result)
    lines.append(f"| {q} | {x} | {_mark(ok)} |")
    lines += ["", f"![NVT {s}]({os.path.relpath(image_dir / f'{s}_nvt.png', doc_dir)})", "",
              f"### NVE, {result['nve_steps']} MD steps", "",
              "| run | mean T | against LAMMPS at dt | total energy drift | max abs(E - E0) / abs(E0) | lost atoms |",
              "|---|---|---|---|---|---|"]
    labels = {"nve_ogn": "fix ogn", "nve_ogn_energy": "fix ogn, energy yes", "nve_md": "LAMMPS velocity-Verlet, dt",
              "nve_md_k": f"LAMMPS velocity-Verlet, {result['k']} x dt"}
    for name, label in labels.items():
        r = nve[name]
        offset = "" if name == "nve_md" else _pct(r.get("T_offset"))
        tail = f" (stopped: {r['failure']})" if r["failure"] else ""
        temp = f"{r['T']:.4g}" if not r["lost"] else "n/a"
        offset = offset if not r["lost"] else "n/a"
        lines.append(f"| {label} | {temp} | {offset} | {r['energy_drift']:.3g} | {r['energy_max_rel']:.2e} | "
                     f"{r['lost']}{tail} |")
    lines += ["", f"Energies in {'LJ units per atom' if units == 'lj' else 'eV (whole box)'}; time in {time_unit}.", "",
              f"![NVE {s}]({os.path.relpath(image_dir / f'{s}_nve.png', doc_dir)})", ""]
    return "\n".join(lines)


def plot(result: dict, image_dir: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s, runs, names = result["system"], result["runs"], result["type_names"]
    time_unit = "tau" if result["units"] == "lj" else "ps"
    fig, grid = plt.subplots(2, 3, figsize=(15, 8.4))
    axes = grid[0]
    nvt, comp = result["nvt"], result["comparison"]
    md_runs = comp["md_runs"]
    colours = {"ogn": "C3", "ogn_energy": "C0"}
    groups = [("0.5", "LAMMPS", md_runs)] + [(colours[v], VARIANTS[v][0], comp["variants"][v]["runs"])
                                             for v in VARIANTS]
    for colour, who, group in groups:
        for name in group:
            first = name == group[0]
            t = runs[name].table
            axes[0].plot(t["time"], t["temp"], color=colour, lw=0.4, label=who if first else None)
            msd = nvt[name]["msd"]
            for i, (style, type_name) in enumerate(zip(("-", "--"), names)):
                axes[2].loglog(msd["lag"][1:], msd["msd"][i][1:], color=colour, ls=style, lw=0.7,
                               label=f"{who}, {type_name}" if first else None)
    axes[1].plot(*np.array(comp["md_rdf"]).T, color="k", lw=1, label=f"LAMMPS, mean of {len(md_runs)}")
    for v in VARIANTS:
        axes[1].plot(*np.array(comp["variants"][v]["rdf"]).T, color=colours[v], lw=1,
                     label=f"{VARIANTS[v][0]}, mean of {len(comp['variants'][v]['runs'])}")
    axes[0].axhline(result["T"], color="C2", lw=1, label="target")
    axes[0].set(xlabel=f"time ({time_unit})", ylabel="temperature", title="temperature")
    axes[1].set(xlabel="r", ylabel="g(r)", title="radial distribution (run average)")
    axes[2].set(xlabel=f"lag ({time_unit})", ylabel="mean-square displacement", title="MSD per type, all time origins")
    used = list(axes) + _plot_dynamics(result, grid[1], [("k", "LAMMPS", None)] + [
        (colours[v], VARIANTS[v][0], v) for v in VARIANTS])
    for ax in grid[1]:
        if ax not in used:
            ax.text(0.5, 0.5, NOT_MEASURED, ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
    _finish(fig, used, f"{s}: NVT ({result['thermostat']}) for {result['nvt_steps']} MD steps",
            image_dir / f"{s}_nvt.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    styles = {"nve_md": ("k", "LAMMPS, dt"), "nve_md_k": ("C7", f"LAMMPS, {result['k']} x dt"),
              "nve_ogn": ("C3", "fix ogn"), "nve_ogn_energy": ("C0", "fix ogn, energy yes")}
    for name, (colour, label) in styles.items():
        t = runs[name].table
        if not len(t["time"]):
            continue
        axes[0].plot(t["time"], t["temp"], color=colour, lw=0.8, label=label)
        axes[1].plot(t["time"], t["etotal"], color=colour, lw=0.8, label=label)
    reference = runs["nve_md"].table["etotal"]
    if len(reference):
        spread = max(np.ptp(runs["nve_ogn"].table["etotal"]) if len(runs["nve_ogn"].table["etotal"]) else 0,
                     abs(reference[0]) * 0.05)
        axes[1].set_ylim(reference[0] - 1.5 * spread, reference[0] + 1.5 * spread)
    # velocity-Verlet at k x dt may blow up: keep the axes on the physical runs
    axes[0].set_ylim(0.7 * result["T"], 1.3 * result["T"])
    axes[0].set(xlabel=f"time ({time_unit})", ylabel="temperature", title="temperature")
    axes[1].set(xlabel=f"time ({time_unit})", ylabel="total energy (true potential + kinetic)", title="total energy")
    _finish(fig, axes, f"{s}: NVE for {result['nve_steps']} MD steps", image_dir / f"{s}_nve.png")


def _plot_dynamics(result: dict, axes, groups) -> list:
    """F_s(q, t), the VACF and the VDOS, the means of LAMMPS's runs and of each fix ogn variant's,
    on three axes; returns those it drew on (none for a summary without them)."""
    nvt, comp, names = result["nvt"], result["comparison"], result["type_names"]
    time_unit = "tau" if result["units"] == "lj" else "ps"
    used = []
    for n, (key, x_key, y_key) in enumerate((("fs", "lag", "fs"), ("vacf", "lag", "z"), ("vdos", "freq", "dos"))):
        curves = [(colour, who, comp.get(f"md_{key}") if v is None else nvt[f"nvt_{v}"].get(key))
                  for colour, who, v in groups]
        if any(c is None for _, _, c in curves):
            continue
        ax = axes[n]
        used.append(ax)
        for colour, who, c in curves:
            for i, (style, type_name) in enumerate(zip(("-", "--"), names)):
                x, y = np.asarray(c[x_key]), np.asarray(c[y_key][i])
                if key == "fs":
                    x, y = x[1:], y[1:]  # log axis: leave out lag 0
                (ax.semilogx if key == "fs" else ax.plot)(x, y, color=colour, ls=style, lw=0.8,
                                                          label=f"{who}, {type_name}")
    titles = {"fs": (f"lag ({time_unit})", "F_s(q, t)", "F_s at the first peak of S(q)"),
              "vacf": (f"lag ({time_unit})", "v(0).v(t) / v(0).v(0)", "VACF, all time origins"),
              "vdos": (f"frequency (1/{time_unit})", "density of states (unit area)", "vibrational density of states")}
    for ax, key in zip(axes, ("fs", "vacf", "vdos")):
        if ax in used:
            xlabel, ylabel, title = titles[key]
            if key == "fs":
                title += f", q = {comp['md_fs']['q']:.3g}/{'sigma' if result['units'] == 'lj' else 'A'}"
                ax.axhline(1 / np.e, color="C2", lw=0.8, ls=":", label="1/e")
            if key == "vacf":  # the lags the VDOS is the transform of (the VACF has decayed by then)
                title += f" (the VDOS's {int(100 * VDOS_LAGS)}% of lags)"
                ax.set_xlim(0, VDOS_LAGS * comp["md_vacf"]["lag"][-1])
            ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return used


def _finish(fig, axes, title: str, path: Path) -> None:
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def kept_parts(doc: Path) -> dict[str, dict]:
    """Per system of an existing report: its summary-table rows and its section (text from its
    `## <sys>: ` heading to the next `## `), to keep for systems a run leaves out."""
    if not doc.is_file():
        return {}
    lines = doc.read_text().split("\n")
    parts: dict[str, dict] = {}
    first = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    for line in lines[:first]:  # the summary table, above the first section
        if line.startswith("| ") and not line.startswith(("| system |", "|---")):
            parts.setdefault(line.split("|")[1].strip(), {"rows": [], "section": ""})["rows"].append(line)
    starts = [i for i, line in enumerate(lines) if line.startswith("## ") and ": " in line]
    for n, i in enumerate(starts):
        name = lines[i][3:].split(":", 1)[0].strip()
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        parts.setdefault(name, {"rows": [], "section": ""})["section"] = "\n".join(lines[i:end]).rstrip("\n") + "\n"
    return parts


def report(results: list[dict], doc: Path, image_dir: Path, command: str, order: tuple[str, ...] = ()) -> str:
    """The whole report. Systems of `order` (the registry's) that this run left out keep their
    rows and sections from the existing `doc`, and the header names them."""
    kept = {name: part for name, part in kept_parts(doc).items()
            if name in order and name not in {r["system"] for r in results} and part["section"]}
    header = (f"Regenerated by `{command}` on {datetime.date.today().isoformat()} "
              "(module `ogn_lammps.physics`, deck `inputs/long_run.in`). Each system starts from the "
              "equilibrated state of its held-out ground truth (seed 2026) and uses its shipped model.")
    if kept:
        header += (f" Kept from an earlier run (not in this one): {', '.join(n for n in order if n in kept)}; "
                   "its own command line is the one above without --systems.")
    lines = ["# Long-run physics: fix ogn against LAMMPS", "", header, "",
             "| system | NVT with | mean T | RDF L1 | D per type | per-type T spread | NVE energy yes: max rel. dE |",
             "|---|---|---|---|---|---|---|"]
    new_rows: dict[str, list[str]] = {}
    new_sections: dict[str, str] = {}
    for r in results:
        e = r["nve"]["nve_ogn_energy"]
        rows = new_rows.setdefault(r["system"], [])
        for v in VARIANTS:
            ogn, comp = r["nvt"][f"nvt_{v}"], r["comparison"]["variants"][v]
            rows.append(f"| {r['system']} | {VARIANTS[v][0]} | {_pct(ogn['T_offset'], 2)} | {100 * comp['rdf_l1']:.2f}% | "
                        f"{', '.join(f'{n} {_pct(x)}' for n, x in zip(r['type_names'], comp['D_rel']))} | "
                        f"{100 * ogn['equipartition']:.2f}% | {e['energy_max_rel']:.1e} |")
        new_sections[r["system"]] = section(r, image_dir, doc.parent)
    names = [n for n in order if n in kept or n in new_rows] + [n for n in new_rows if n not in order]
    for name in names:
        lines += new_rows[name] if name in new_rows else kept[name]["rows"]
    lines += ["", "Targets (issue 12): mean T within 1% of the target, RDF L1 within 2% of LAMMPS's, "
              "diffusion within 10%, per-type temperatures within 3% of each other, and total energy "
              "constant to 1e-4 relative with `energy yes`.", ""]
    for name in names:
        lines.append(new_sections[name] if name in new_sections else kept[name]["section"])
    return "\n".join(lines) + "\n"
