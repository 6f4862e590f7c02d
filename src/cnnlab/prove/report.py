"""The lab report of an experiment folder: report.md, a self-contained report.html, results.json and .csv.

Per claim: the question, the setup, a figure (every seed's difference as a dot, the mean and its 95%
interval as a bar, zero as a line), the numbers, the computed verdict, a short explanation for a student,
the published result it echoes and whether ours agree, and the command that reproduces it.

The statistics come in as :func:`cnnlab.prove.runner.results_of` computed them from the recorded trials;
nothing here changes a number, it only writes them down.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import textwrap
from pathlib import Path

from cnnlab.files import write_json
from cnnlab.plots import pyplot, save_figure
from cnnlab.prove.stats import CONTRADICTED, SUPPORTED

COLORS = {SUPPORTED: "#2b8a3e", CONTRADICTED: "#c92a2a"}
AGREEMENT = {SUPPORTED: "Our numbers agree with it.",
             CONTRADICTED: "Our numbers disagree with it at this budget.",
             "not shown at this budget": "Our numbers do not show it at this budget: the interval includes 0 "
                                         "(more seeds, or the standard budget, may)."}


def scale(unit: str) -> float:
    """Accuracies (0..1) are shown in percentage points."""
    return 100.0 if unit == "%" else 1.0


def fmt(value: float | None, unit: str, signed: bool = True) -> str:
    """A number in the report's words: ``+3.2 points``, ``-14 steps``, ``0.412``.

    >>> fmt(0.0321, "%"), fmt(-14.0, "steps"), fmt(0.4123, "", signed=False), fmt(0.9, "%", signed=False)
    ('+3.2 points', '-14 steps', '0.412', '90.0%')
    """
    if value is None:
        return "–"
    v = value * scale(unit)
    sign = "+" if signed else ""
    if unit == "%":
        return f"{v:{sign}.1f} points" if signed else f"{v:.1f}%"
    if unit == "steps":
        return f"{v:{sign}.0f} steps" if signed else f"{v:.0f}"
    return f"{v:{sign}.3f}"


def interval(summary: dict | None, unit: str) -> str:
    """``[lo, hi]`` of a summary in the report's words."""
    if not summary or summary["lo"] is None:
        return "–"
    return f"[{fmt(summary['lo'], unit)}, {fmt(summary['hi'], unit)}]"


def command(claim: dict, folder: str, seeds: int) -> str:
    """The command that reproduces a claim."""
    return f"cnnlab experiment {claim['name']} --budget {claim['budget']} --seeds {seeds} --out {folder}"


def figure_png(claim: dict, path: Path) -> bytes | None:
    """Write the claim's figure to ``path`` (a PNG) and return its bytes (None, nothing written, when no
    comparison has two seeds yet)."""
    comps = [c for c in claim["comparisons"] if c["summary"]]
    if not comps:
        return None
    plt = pyplot()
    units = list(dict.fromkeys(c["unit"] for c in comps))
    groups = [[c for c in comps if c["unit"] == u] for u in units]
    fig, axes = plt.subplots(len(groups), 1, figsize=(8.5, 0.75 * len(comps) + 1.1 * len(groups)),
                             gridspec_kw={"height_ratios": [len(g) for g in groups]}, squeeze=False)
    for ax, group, unit in zip(axes[:, 0], groups, units, strict=True):
        k = scale(unit)
        for row, c in enumerate(group):
            y = len(group) - 1 - row
            s = c["summary"]
            color = COLORS.get(s["verdict"], "#5b6474")
            ax.plot([s["lo"] * k, s["hi"] * k], [y, y], color=color, lw=4, alpha=0.35, solid_capstyle="round")
            ax.scatter([d * k for d in c["differences"]], [y] * len(c["differences"]), color=color, s=22,
                       zorder=3, alpha=0.8)
            ax.scatter([s["mean"] * k], [y], color=color, marker="D", s=46, zorder=4, edgecolor="white")
        ax.axvline(0, color="#1f2430", lw=1)
        ax.set_yticks(range(len(group)), [textwrap.fill(c["label"], 44) for c in reversed(group)], fontsize=8.5)
        ax.set_ylim(-0.7, len(group) - 0.3)
        words = {"%": "percentage points", "steps": "steps", "": "difference"}[unit]
        ax.set_xlabel(f"{claim['arms'][0]} better by ({words}) →   each dot: one seed; bar: 95% interval",
                      fontsize=8.5)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_title(claim["title"], fontsize=11, loc="left")
    fig.tight_layout()
    save_figure(fig, path)
    return Path(path).read_bytes()


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _numbers_rows(claim: dict) -> list[list[str]]:
    a, b = claim["arms"]
    rows = [["Comparison", f"{a} (mean)", f"{b} (mean)", "Difference (mean)", "95% interval", "Seeds", "Verdict"]]
    for c in claim["comparisons"]:
        s = c["summary"]
        rows.append([c["label"], fmt(_mean(c["better"]), c["unit"], signed=False),
                     fmt(_mean(c["other"]), c["unit"], signed=False), fmt(s["mean"] if s else None, c["unit"]),
                     interval(s, c["unit"]), str(len(c["seeds"])), s["verdict"] if s else "needs 2 seeds"])
    return rows


def _verdict_sentence(claim: dict) -> str:
    head = claim["comparisons"][0] if claim["comparisons"] else None
    if not head or not head["summary"]:
        return "Not enough seeds finished yet for a verdict."
    s = head["summary"]
    return (f"**{s['verdict'].capitalize()}.** Headline: {head['label']}: {claim['arms'][0]} is better by "
            f"{fmt(s['mean'], head['unit'])} on average over {s['n']} seeds, 95% interval "
            f"{interval(s, head['unit'])} (expected: {claim['expects']}).")


def markdown(results: dict, figures: dict[str, str]) -> str:
    """report.md's text (figures: claim name -> relative path of its PNG)."""
    lines = ["# Lab report: do the lecture's claims hold?", "",
             f"Budget: **{results['budget']}**. Every claim compares two arms that differ in one thing; both arms of a "
             "seed share the training images, the starting weights and the batch order. A verdict is computed from "
             "the 95% t interval of the per-seed differences: above 0 *supported*, below 0 *contradicted*, "
             "containing 0 *not shown at this budget*.", "",
             "| Claim | Headline | Difference | 95% interval | Verdict |", "|---|---|---|---|---|"]
    for c in results["claims"]:
        h = c["comparisons"][0]
        mean = h["summary"]["mean"] if h["summary"] else None
        lines.append(f"| [{c['title']}](#{c['name']}) | {h['label']} | {fmt(mean, h['unit'])} "
                     f"| {interval(h['summary'], h['unit'])} | {c['verdict']} |")
    for c in results["claims"]:
        seeds = max((len(x["seeds"]) for x in c["comparisons"]), default=0)
        lines += ["", f"## {c['title']}", f'<a id="{c["name"]}"></a>', "", f"**Question.** {c['question']}", "",
                  f"**Setup.** {c['setup']} Seeds: {seeds}. Time: {c['seconds']:.0f} s.", ""]
        if c["name"] in figures:
            lines += [f"![{c['title']}]({figures[c['name']]})", ""]
        rows = _numbers_rows(c)
        lines += ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        lines += ["", _verdict_sentence(c), "", f"**Why.** {c['explanation']}", "",
                  f"**Published.** {c['citation']}: {c['published']} {AGREEMENT.get(c['verdict'], '')}", "",
                  "**Reproduce.**", "", "```", command(c, results["folder"], seeds), "```"]
    return "\n".join(lines) + "\n"


CSS = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1f2430;"
       "line-height:1.45}table{border-collapse:collapse;margin:.6em 0;font-size:.92em}td,th{border:1px solid "
       "#dfe3ec;padding:4px 8px;text-align:left}th{background:#eceefe}img{max-width:100%}pre{background:#1f2245;"
       "color:#e8e9ff;padding:10px;border-radius:8px;overflow:auto}.supported{color:#2b8a3e;font-weight:700}"
       ".contradicted{color:#c92a2a;font-weight:700}.not{color:#b35c00;font-weight:700}section{border-top:2px "
       "solid #dfe3ec;margin-top:1.5em}")


def _cls(verdict: str) -> str:
    return {SUPPORTED: "supported", CONTRADICTED: "contradicted"}.get(verdict, "not")


def page(results: dict, pngs: dict[str, bytes]) -> str:
    """report.html: the same report, self-contained (figures embedded as data: URLs, no outside files)."""
    e = html.escape
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>cnnlab lab report</title>",
             f"<style>{CSS}</style></head><body><h1>Lab report: do the lecture's claims hold?</h1>",
             f"<p>Budget: <b>{e(results['budget'])}</b>. Each claim compares two arms that differ in one thing; both "
             "arms of a seed share the training images, the starting weights and the batch order. The verdict is "
             "computed from the 95% t interval of the per-seed differences.</p>",
             "<table><tr><th>Claim</th><th>Headline</th><th>Difference</th><th>95% interval</th><th>Verdict</th></tr>"]
    for c in results["claims"]:
        h = c["comparisons"][0]
        parts.append(f"<tr><td><a href='#{e(c['name'])}'>{e(c['title'])}</a></td><td>{e(h['label'])}</td>"
                     f"<td>{e(fmt(h['summary']['mean'] if h['summary'] else None, h['unit']))}</td>"
                     f"<td>{e(interval(h['summary'], h['unit']))}</td>"
                     f"<td class='{_cls(c['verdict'])}'>{e(c['verdict'])}</td></tr>")
    parts.append("</table>")
    for c in results["claims"]:
        seeds = max((len(x["seeds"]) for x in c["comparisons"]), default=0)
        parts += [f"<section id='{e(c['name'])}'><h2>{e(c['title'])}</h2>",
                  f"<p><b>Question.</b> {e(c['question'])}</p>",
                  f"<p><b>Setup.</b> {e(c['setup'])} Seeds: {seeds}. Time: {c['seconds']:.0f} s.</p>"]
        if c["name"] in pngs:
            data = base64.b64encode(pngs[c["name"]]).decode()
            parts.append(f"<img alt='{e(c['title'])}: each seed's difference, the mean and its 95% interval' "
                         f"src='data:image/png;base64,{data}'>")
        rows = _numbers_rows(c)
        parts.append("<table><tr>" + "".join(f"<th>{e(x)}</th>" for x in rows[0]) + "</tr>")
        for r in rows[1:]:
            parts.append("<tr>" + "".join(f"<td>{e(x)}</td>" for x in r[:-1])
                         + f"<td class='{_cls(r[-1])}'>{e(r[-1])}</td></tr>")
        parts.append("</table>")
        sentence = _verdict_sentence(c).replace("**", "")
        parts += [f"<p class='{_cls(c['verdict'])}'>{e(sentence)}</p>",
                  f"<p><b>Why.</b> {e(c['explanation'])}</p>",
                  f"<p><b>Published.</b> {e(c['citation'])}: {e(c['published'])} "
                  f"{e(AGREEMENT.get(c['verdict'], ''))}</p>",
                  f"<p><b>Reproduce.</b></p><pre>{e(command(c, results['folder'], seeds))}</pre></section>"]
    parts.append("</body></html>")
    return "".join(parts)


def write_csv(results: dict, path: Path) -> None:
    """results.csv: one row per claim, comparison and seed (both arms' numbers and the signed difference)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["claim", "comparison", "metric", "condition", "seed", "arm_a", "value_a", "arm_b", "value_b",
                    "difference", "verdict"])
        for c in results["claims"]:
            for comp in c["comparisons"]:
                verdict = comp["summary"]["verdict"] if comp["summary"] else ""
                for s, a, b, d in zip(comp["seeds"], comp["better"], comp["other"], comp["differences"], strict=True):
                    w.writerow([c["name"], comp["label"], comp["metric"], comp["condition"], s, c["arms"][0], a,
                                c["arms"][1], b, d, verdict])


def write_report(out: str | Path, results: dict) -> Path:
    """Write report.md, report.html, results.json, results.csv and figures/CLAIM.png into ``out``.

    Returns:
        The path of report.html.
    """
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    pngs, figures = {}, {}
    for c in results["claims"]:
        png = figure_png(c, out / "figures" / f"{c['name']}.png")
        if png:
            pngs[c["name"]] = png
            figures[c["name"]] = f"figures/{c['name']}.png"
    (out / "report.md").write_text(markdown(results, figures))
    (out / "report.html").write_text(page(results, pngs))
    write_json(out / "results.json", json.loads(json.dumps(results)))
    write_csv(results, out / "results.csv")
    return out / "report.html"
