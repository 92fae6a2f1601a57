"""
What a distillation run leaves for its user at the end: ``distill_summary.md`` (one row per
round) and ``distill_progress.png`` (consistency rate and cAcc per round), both built from the
rounds' ``round_summary.json``.
"""
import io
import json
import os
from typing import Dict, List, Optional, Sequence

__all__ = ["eval_metric", "read_stage_summaries", "stage_folders", "summary_markdown",
           "progress_png"]


def stage_folders(output_dir: str) -> List[str]:
    """
    The stage folders of a distillation run in order: ``round_0``, ``round_1``, ...,
    ``round_10``, then ``refine`` (``round_0.bak/`` and the like are not stages).
    """
    names = [n for n in os.listdir(output_dir)
             if (n == "refine" or (n.startswith("round_") and n[6:].isdigit()))
             and os.path.isdir(os.path.join(output_dir, n))]
    return sorted(names, key=lambda n: (1, 0) if n == "refine" else (0, int(n[6:])))


def read_stage_summaries(output_dir: str) -> List[Dict]:
    """
    The ``round_summary.json`` dicts of a distillation run's stages in order (``round_<k>/``
    then ``refine/``); a stage with an ``audit.json`` (written afterwards by
    ``tools/audit_pseudo_labels.py``) gets the audit of its own pseudo labels
    (``pseudo_labels.json``; ``refined_labels.json`` in ``refine/``) under the key
    ``"audit"``. Stages without a summary yet are left out.
    """
    names = [n for n in stage_folders(output_dir)
             if os.path.isfile(os.path.join(output_dir, n, "round_summary.json"))]
    summaries = []
    for name in names:
        with open(os.path.join(output_dir, name, "round_summary.json")) as f:
            summary = json.load(f)
        audit = os.path.join(output_dir, name, "audit.json")
        if os.path.isfile(audit):
            with open(audit) as f:
                rows = json.load(f)
            summary["audit"] = next((r for r in rows if r["file"] == "pseudo_labels.json"),
                                    rows[0] if rows else None)
        summaries.append(summary)
    return summaries


def eval_metric(summary: Dict, key: str) -> Optional[float]:
    """
    The RPC metric ``key`` (e.g. ``"averaged/fixed/cAcc"``) of the first evaluated dataset of a
    round summary, or None when the round was not evaluated or has no such metric.
    """
    evaluation = summary.get("eval") or {}
    for results in evaluation.values():
        value = (results.get("rpc") or {}).get(key)
        return None if value is None else float(value)
    return None


def _cell(value, fmt="{:.2f}"):
    return "—" if value is None else fmt.format(value)


def summary_markdown(summaries: Sequence[Dict]) -> str:
    """A markdown table of the rounds (``round_summary.json`` dicts in order)."""
    lines = [
        "# Distillation summary",
        "",
        "Consistency is measured at the start of a round with the model of the previous one;",
        "cAcc / mCIoU (percent, all images, fixed threshold and official sweep) after the round's"
        " training, on the labelled evaluation set.",
        "",
        "| round | tau | consistent / target images | rate | pseudo boxes | refined images | "
        "cAcc fixed | cAcc sweep | mCIoU fixed | predict s | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s['stage']} | {s['threshold']:.2f} | {s['consistent_images']} / "
            f"{s['target_images']} | {100 * s['consistency_rate']:.1f} % | {s['pseudo_boxes']} | "
            f"{s.get('refined_images', 0)} | {_cell(eval_metric(s, 'averaged/fixed/cAcc'))} | "
            f"{_cell(eval_metric(s, 'averaged/sweep/cAcc'))} | "
            f"{_cell(eval_metric(s, 'averaged/fixed/mCIoU'))} | "
            f"{_cell(s.get('predict_seconds'), '{:.0f}')} | "
            f"{_cell(s.get('train_seconds'), '{:.0f}')} |"
        )
    return "\n".join(lines) + "\n"


def progress_png(summaries: Sequence[Dict]) -> bytes:
    """PNG bytes: consistency rate and cAcc (fixed threshold; sweep dashed) per round."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    names = [s["stage"] for s in summaries]
    x = list(range(len(summaries)))
    fig = Figure(figsize=(6, 3.5), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(x, [100 * s["consistency_rate"] for s in summaries], "o-", label="consistency rate")
    for key, style, label in (
        ("averaged/fixed/cAcc", "s-", "val cAcc (fixed)"),
        ("averaged/sweep/cAcc", "s--", "val cAcc (sweep)"),
    ):
        values: List = [eval_metric(s, key) for s in summaries]
        if any(v is not None for v in values):
            ax.plot(x, [float("nan") if v is None else v for v in values], style, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=20)
    ax.set_ylabel("percent")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
