"""The table and the curves of tools/benchmark_views.py (rows of :func:`measure_views`)."""
import io
import os
import re
from typing import Dict, Optional, Sequence

__all__ = ["checkpoint_iteration", "views_markdown", "views_png"]


def checkpoint_iteration(path: str) -> Optional[int]:
    """Iterations behind ``model_<k>.pth`` (k + 1), None for other names (e.g. model_final)."""
    found = re.search(r"model_(\d+)\.pth$", os.path.basename(path))
    return int(found.group(1)) + 1 if found else None


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _num(value, fmt="{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def views_markdown(rows: Sequence[Dict]) -> str:
    """Two tables: the views per checkpoint, and the consistency check per setting."""
    lines = [
        "| checkpoint | target count acc % | within 1 % | MAE | mean error | outside boxes "
        "/ image | held-out count acc % | held-out recall % at P>=90 % (tau) | recall % at "
        "tau 0.8 (precision %) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, h, d = r["counting_target"], r["counting_heldout"], r["detection_heldout"]
        lines.append(
            f"| {os.path.basename(r['weights'])} | {_pct(c['count_acc'])} | "
            f"{_pct(c['within_1'])} | {_num(c['mae'])} | {_num(c['mean_error'], '{:+.2f}')} | "
            f"{_num(c['outside_per_image'])} | {_pct(h['count_acc'])} | "
            f"{_pct(d['recall'])} ({_num(d['threshold'])}) | "
            f"{_pct(d['recall_at_published_tau'])} ({_pct(d['precision_at_published_tau'])}) |")
    lines += [
        "",
        "| checkpoint | tau mode | tau | MIN_BOXES | class-agnostic NMS | selected % | pseudo "
        "boxes | pseudo-box precision % | selected entirely correct % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for q in r["consistency"]:
            lines.append(
                f"| {os.path.basename(r['weights'])} | {q['mode']} | {_num(q['threshold'])} | "
                f"{q['min_boxes']} | {'IoU ' + str(q['nms']) if q['nms'] else 'off'} | "
                f"{_pct(q.get('rate'))} | {q.get('pseudo_boxes', '-')} | "
                f"{_pct(q.get('precision'))} | {_pct(q.get('entirely_correct'))} |")
    return "\n".join(lines) + "\n"


def _best_calibrated(r: Dict) -> Dict:
    rows = [q for q in r["consistency"] if q["mode"] == "calibrated" and q.get("rate") is not None]
    return max(rows, key=lambda q: q["rate"]) if rows else {}


def views_png(rows: Sequence[Dict]) -> bytes:
    """Curves over training iterations: detection recall, counting view, consistency (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = [r.get("iteration") or checkpoint_iteration(r["weights"]) for r in rows]
    keep = sorted((i for i, it in enumerate(its) if it is not None), key=lambda i: its[i])
    x = [its[i] for i in keep]
    pick = [rows[i] for i in keep]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(x, [100 * r["detection_heldout"]["recall"] for r in pick], "o-",
                 label="recall at P >= 90 %")
    axes[0].plot(x, [100 * (r["detection_heldout"]["recall_at_published_tau"] or 0)
                     for r in pick], "s--", label="recall at tau 0.8")
    axes[0].axhline(80, color="grey", lw=0.8, ls=":")
    axes[0].set(title="detection view (held-out synthesized)", xlabel="iteration", ylabel="%")
    axes[1].plot(x, [100 * r["counting_target"]["count_acc"] for r in pick], "o-",
                 label="count accuracy %")
    outside = axes[1].twinx()
    outside.plot(x, [r["counting_target"]["outside_per_image"] for r in pick], "s--",
                 color="tab:orange", label="density outside boxes / image (right)")
    outside.axhline(0.8, color="tab:orange", lw=0.8, ls=":")
    outside.set_ylim(bottom=0)
    outside.legend(fontsize=7, loc="center right")
    axes[1].set(title="counting view (target)", xlabel="iteration")
    best = [_best_calibrated(r) for r in pick]
    pub = [next((q for q in r["consistency"] if q["mode"] == "published" and q["min_boxes"] == 3
                 and q["nms"]), {}) for r in pick]
    axes[2].plot(x, [100 * b.get("rate", 0) for b in best], "o-", label="selected % (calibrated)")
    axes[2].plot(x, [100 * (b.get("precision") or 0) for b in best], "s--",
                 label="pseudo-box precision % (calibrated)")
    axes[2].plot(x, [100 * p.get("rate", 0) for p in pub], "^-", label="selected % (tau 0.8)")
    axes[2].axhline(20, color="grey", lw=0.8, ls=":")
    axes[2].axhline(90, color="grey", lw=0.8, ls=":")
    axes[2].set(title="consistency check (target)", xlabel="iteration")
    for ax in axes:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()
