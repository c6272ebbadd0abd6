"""results --no-loss-vs-k keeps the loss-against-k section the last full run wrote."""

from __future__ import annotations

from types import SimpleNamespace

from ogn_lammps.judge.results import existing_section, loss_vs_k_section
from ogn_lammps.judge.studies import report

HEADING = "## Loss against k for the liquid and the glass (paper Fig. 5C, S9-S10)"


def test_the_last_runs_section_is_kept_without_its_trainings(tmp_path):
    doc = tmp_path / "results.md"
    doc.write_text("\n".join(["# Results", "", HEADING, "", "| k | lj |", "| 5 | 0.0085 |", "",
                              "## Kob-Andersen (`lj`)", "", "rows"]))
    args = SimpleNamespace(work=tmp_path / "work", no_loss_vs_k=True, doc=doc)
    assert loss_vs_k_section(args, tmp_path) == [HEADING, "", "| k | lj |", "| 5 | 0.0085 |", ""]


def test_a_last_section_stops_at_the_studies_block(tmp_path):
    doc = tmp_path / "results.md"
    doc.write_text("\n".join(["# Results", HEADING, "kept", "", report.BEGIN, "## S5", report.END]))
    assert existing_section(doc, HEADING) == [HEADING, "kept", ""]


def test_without_a_section_or_a_doc_it_says_not_measured(tmp_path):
    args = SimpleNamespace(work=tmp_path / "work", no_loss_vs_k=True, doc=tmp_path / "none.md")
    assert loss_vs_k_section(args, tmp_path)[-2] == "Not measured in this run (--no-loss-vs-k)."
    (tmp_path / "other.md").write_text("# Results\n\n## Something else\n")
    assert existing_section(tmp_path / "other.md", HEADING) == []
