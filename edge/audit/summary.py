"""The audit's summary: counts by verdict and reason, per top-level folder, and the worst frames,
as Markdown (`summary.md`) and as one self-contained HTML page with a bar chart (`summary.html`)."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from edge.atomic_files import atomic_write
from edge.audit.store import ResultStore
from edge.progress import VERDICT_ORDER

WORST_FRAMES = 25
COLUMNS = ["path", "folder", "verdict", "reasons", "failing", "model_name", "model_sha256", "judged_at"]


@dataclass
class Summary:
    frames: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    folders: dict[str, Counter[str]] = field(default_factory=dict)
    # (path, verdict, failing-check messages), the frames with the most failing checks first
    worst: list[tuple[str, str, list[str]]] = field(default_factory=list)
    models: Counter[str] = field(default_factory=Counter)


def summarise(store: ResultStore, worst: int = WORST_FRAMES) -> Summary:
    rows = store.latest(COLUMNS).to_pylist()
    summary = Summary(frames=len(rows))
    bad = []
    for row in rows:
        summary.verdicts[row["verdict"]] += 1
        summary.reasons.update(row["reasons"])
        summary.folders.setdefault(row["folder"], Counter())[row["verdict"]] += 1
        summary.models[f"{row['model_name']} ({(row['model_sha256'] or '')[:12]})"] += 1
        if row["verdict"] != "accept":
            bad.append(row)
    # retakes with the most failing checks first, then unreadable files; by path within each
    bad.sort(key=lambda r: (r["verdict"] != "retake", -len(r["failing"]), r["path"]))
    summary.worst = [(r["path"], r["verdict"], [f["message"] for f in r["failing"]]) for r in bad[:worst]]
    return summary


def _models(summary: Summary) -> str:
    """The segmenter (name and start of its SHA-256) behind the verdicts; several after a model change."""
    if len(summary.models) == 1:
        return f"model {next(iter(summary.models))}"
    return "models " + ", ".join(f"{m} ({n} frames)" for m, n in summary.models.most_common())


def _share(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f} %" if total else "-"


def _verdict_rows(summary: Summary) -> list[tuple[str, int]]:
    names = [*VERDICT_ORDER, *sorted(set(summary.verdicts) - set(VERDICT_ORDER))]
    return [(name, summary.verdicts.get(name, 0)) for name in names]


def _folder_rows(summary: Summary) -> list[list[str]]:
    out = []
    for folder, counts in sorted(summary.folders.items()):
        total = sum(counts.values())
        out.append([folder, str(total), str(counts.get("accept", 0)), str(counts.get("retake", 0)),
                    str(counts.get("error", 0)), _share(counts.get("retake", 0) + counts.get("error", 0), total)])
    return out


FOLDER_HEADER = ["folder", "frames", "accept", "retake", "error", "sent back"]


def to_markdown(summary: Summary) -> str:
    def table(header: list[str], rows: list[list[str]]) -> list[str]:
        cells = [header, ["---"] * len(header), *rows]
        return ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]

    lines = ["# Audit summary", "",
             f"{summary.frames} frames, judged by {_models(summary)}.", "",
             "## Verdicts", ""]
    lines += table(["verdict", "frames", "share"],
                   [[v, str(n), _share(n, summary.frames)] for v, n in _verdict_rows(summary)])
    lines += ["", "## Reasons", "", "A frame sent back can fail several checks.", ""]
    lines += table(["check", "frames", "share"],
                   [[r, str(n), _share(n, summary.frames)] for r, n in summary.reasons.most_common()])
    lines += ["", "## By top-level folder", ""]
    lines += table(FOLDER_HEADER, _folder_rows(summary))
    lines += ["", f"## Worst frames (up to {WORST_FRAMES})", ""]
    lines += table(["file", "verdict", "reasons"], [[p, v, "; ".join(m)] for p, v, m in summary.worst])
    return "\n".join(lines) + "\n"


def bar_chart(bars: list[tuple[str, int]], colours: dict[str, str] | None = None) -> str:
    """A horizontal bar chart as inline SVG: one bar per (label, count)."""
    bar_h, gap, label_w, chart_w = 22, 6, 170, 420
    top = max([n for _, n in bars] + [1])
    height = len(bars) * (bar_h + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + chart_w + 80}" height="{height}" '
             f'role="img">']
    for i, (label, count) in enumerate(bars):
        y = gap + i * (bar_h + gap)
        w = round(chart_w * count / top)
        colour = (colours or {}).get(label, "#4a7ab0")
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.0f}" text-anchor="end">{html.escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{colour}"><title>'
                     f'{html.escape(label)}: {count}</title></rect>'
                     f'<text x="{label_w + w + 6}" y="{y + bar_h * 0.7:.0f}">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


VERDICT_COLOURS = {"accept": "#2e8b57", "retake": "#c0392b", "error": "#e67e22"}


def to_html(summary: Summary) -> str:
    def table(header: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    verdict_bars = _verdict_rows(summary)
    reason_bars = summary.reasons.most_common()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Audit summary</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
svg text {{ font: 13px sans-serif; fill: #222; }}
</style></head><body>
<h1>Audit summary</h1>
<p>{summary.frames} frames, judged by {html.escape(_models(summary))}.</p>
<h2>Verdicts</h2>
{bar_chart(verdict_bars, VERDICT_COLOURS)}
<h2>Reasons</h2>
<p>Frames failing each check (a frame sent back can fail several).</p>
{bar_chart(reason_bars) if reason_bars else "<p>No frame failed a check.</p>"}
<h2>By top-level folder</h2>
{table(FOLDER_HEADER, _folder_rows(summary))}
<h2>Worst frames (up to {WORST_FRAMES})</h2>
{table(["file", "verdict", "reasons"], [[p, v, "; ".join(m)] for p, v, m in summary.worst])}
</body></html>
"""


def write_summary(store: ResultStore, out: Path) -> Summary:
    summary = summarise(store)
    atomic_write(out / "summary.md", to_markdown(summary).encode())
    atomic_write(out / "summary.html", to_html(summary).encode())
    return summary
