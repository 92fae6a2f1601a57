"""
The RPC protocol on arrays, shared by :class:`RPCEvaluator` and ``tools/evaluate_rpc.py``:
ground truth with levels, the threshold modes, the counting view, and the leaderboard table.

Shapes: N images, K classes, G ground-truth objects, D detections, C density channels.

Rows, per level (easy, medium, hard, then "averaged" = all evaluated images together, as the
official tool; images without a level appear only in "averaged"):

* ``sweep``: the official protocol, its threshold chosen per level on this ground truth (an oracle);
* ``fixed``: one threshold given in advance (``TEST.RPC_SCORE_THRESH``), the deployable number;
* ``density``: the counting view, count vectors = ``np.rint(counts)`` when C == K; for any C its
  count acc compares ``np.rint(counts.sum())`` with the number of objects.

Metrics are defined in :mod:`.rpc_metrics`. Percentages (cAcc, mCIoU, mAP50, mmAP, count acc) are
in %, as on the leaderboard; ACD and mCCD are plain numbers.
"""
from dataclasses import dataclass

import numpy as np
from tabulate import tabulate

from ..data.datasets.rpc_format import RPC_LEVELS
from ..utils.cli import UserError
from .rpc_metrics import CountTable, official_sweep

__all__ = [
    "AVERAGED", "COLUMNS", "RPCGroundTruth", "Detections", "evaluate_counts",
    "build_report", "level_rows", "report_table", "report_text", "report_metrics",
]

AVERAGED = "averaged"
# The leaderboard's columns (rpctool's ``config.column_names``), then ours.
COLUMNS = ("level", "method", "cAcc", "mCIoU", "ACD", "mCCD", "mAP50", "mmAP",
           "threshold", "count_acc")
_PERCENT = ("cAcc", "mCIoU", "mAP50", "mmAP", "count_acc")
_COUNT_KEYS = ("cAcc", "mCIoU", "ACD", "mCCD", "count_acc", "threshold")

NOTES = (
    "sweep: official protocol (rpctool 0.1.6): per level, the score threshold with the best cAcc "
    "on this ground truth (4 passes of a 10-point grid on [0.01, 0.99], each narrowed to the "
    "span of the 3 best); an oracle, comparable with the RPC leaderboard.",
    "fixed: one threshold chosen in advance (TEST.RPC_SCORE_THRESH); the deployable number.",
    "A detection counts when score >= threshold. Sweep rows follow the official tool, which "
    "leaves images without any detection >= threshold out of cAcc/ACD/mCCD/mCIoU "
    "(images_dropped); fixed and density rows count every image.",
    "Classes without ground truth in a level: mCIoU averages the classes with ground truth or a "
    "prediction (a class predicted without ground truth, a phantom, has IoU 0; the official "
    "value whenever it is finite); mCCD averages the classes with ground truth (the official "
    "value is inf with phantoms, NaN when a class has neither).",
    "averaged: all evaluated images together (as the official tool), not the mean of the levels.",
    "count_acc (not official): share of images whose class-agnostic total is right (detections "
    ">= threshold, or round(sum of density counts) for the density row).",
    "density: count vector = np.rint(counts) when C = K (negative counts read as 0).",
    "mAP50 / mmAP: pycocotools' COCOeval numbers (bbox, area all, 100 detections) on all "
    "detections of the level's images; 0 when there is no detection.",
)


def reindex(num, indices):
    """(num,) int64: position of each of ``num`` items in ``indices`` (L,), -1 where absent."""
    new = np.full(num, -1, dtype=np.int64)
    new[indices] = np.arange(len(indices))
    return new


@dataclass(frozen=True)
class RPCGroundTruth:
    """Object classes of N images with levels; classes are contiguous 0..K-1."""

    image_ids: np.ndarray  # (N,) int64 dataset image ids
    levels: np.ndarray  # (N,) str level, "" when the image has none
    gt_image: np.ndarray  # (G,) int64 index into image_ids
    gt_class: np.ndarray  # (G,) int64 contiguous class
    category_ids: tuple  # (K,) dataset category id of each contiguous class

    @property
    def num_images(self):
        return len(self.image_ids)

    @property
    def num_classes(self):
        return len(self.category_ids)

    @classmethod
    def from_dataset_dicts(cls, dataset_dicts, category_ids, *, source):
        """From Detectron2 dataset dicts ("image_id", optional "level", "annotations" with
        contiguous "category_id"); ``source`` names the data in error messages."""
        image_ids, levels, gt_image, gt_class = [], [], [], []
        for i, record in enumerate(dataset_dicts):
            if "image_id" not in record:
                raise UserError(
                    f"{source}: record {i} ({record.get('file_name', '?')}) has no image_id"
                )
            image_ids.append(record["image_id"])
            levels.append(record.get("level") or "")
            annotations = record.get("annotations", ())
            gt_image.extend([i] * len(annotations))
            gt_class.extend(a["category_id"] for a in annotations)
        return cls._checked(image_ids, levels, gt_image, gt_class, category_ids, source)

    @classmethod
    def _checked(cls, image_ids, levels, gt_image, gt_class, category_ids, source):
        try:
            ids = np.asarray(image_ids, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError) as e:
            raise UserError(f"{source}: image ids must be integers ({e})") from e
        unique, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            raise UserError(f"{source}: image_id {unique[counts > 1][0]} appears more than once")
        gt_class = np.asarray(gt_class, dtype=np.int64).reshape(-1)
        bad = np.flatnonzero((gt_class < 0) | (gt_class >= len(category_ids)))
        if bad.size:
            record = int(np.asarray(gt_image)[bad[0]])
            raise UserError(
                f"{source}: record {record} (image_id {ids[record]}) has category_id "
                f"{gt_class[bad[0]]} outside 0..{len(category_ids) - 1}"
            )
        levels = np.asarray(levels, dtype=str).reshape(-1)
        gt_image = np.asarray(gt_image, dtype=np.int64).reshape(-1)
        return cls(ids, levels, gt_image, gt_class, tuple(int(c) for c in category_ids))

    def index_of(self, image_ids, *, source, what="prediction"):
        """(L,) indices of dataset image ids (L,); a clear error for an unknown id."""
        ids = np.asarray(image_ids, dtype=np.int64).reshape(-1)
        order = np.argsort(self.image_ids, kind="stable")
        pos = np.minimum(np.searchsorted(self.image_ids[order], ids), max(self.num_images - 1, 0))
        found = self.image_ids[order][pos] == ids if self.num_images else np.zeros(len(ids), bool)
        if not np.all(found):
            j = int(np.flatnonzero(~found)[0])
            raise UserError(f"{source}: {what} {j} has image_id {ids[j]}, not in the ground truth")
        return order[pos]

    def subset(self, indices):
        """The ground truth of images ``indices`` (L,), in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        new = reindex(self.num_images, indices)
        keep = new[self.gt_image] >= 0
        return RPCGroundTruth(self.image_ids[indices], self.levels[indices],
                              new[self.gt_image[keep]], self.gt_class[keep], self.category_ids)

    def buckets(self):
        """[(name, (n,) image indices)]: easy, medium, hard, other levels, then "averaged"."""
        present = set(self.levels.tolist()) - {""}
        names = [lv for lv in RPC_LEVELS if lv in present] + sorted(present - set(RPC_LEVELS))
        return [(lv, np.flatnonzero(self.levels == lv)) for lv in names] + [
            (AVERAGED, np.arange(self.num_images))
        ]


@dataclass(frozen=True)
class Detections:
    """D detections on the images of an :class:`RPCGroundTruth`."""

    image: np.ndarray  # (D,) int64 index into the ground truth's images
    cls: np.ndarray  # (D,) int64 contiguous class
    score: np.ndarray  # (D,) float64
    boxes: np.ndarray  # (D, 4) XYWH in original image pixels


def evaluate_counts(gt, det, *, score_threshold=None, counts=None):
    """
    Count metrics per level and mode.

    Args:
        gt (RPCGroundTruth), det (Detections).
        score_threshold (float or None): the fixed mode's threshold; None: no fixed rows.
        counts: (N, C) float density counts per image, or None.
    Returns:
        (levels, history): ``levels[name][mode]`` = metrics dict (fractions, see
        :meth:`CountTable.metrics`) plus "threshold"; ``history[name]`` = the sweep passes.
    """
    levels, history = {}, {}
    if counts is not None:
        counts = np.maximum(np.asarray(counts, dtype=np.float64), 0.0)  # (N, C); negatives: 0
    per_class = counts is not None and counts.shape[1] == gt.num_classes
    for name, idx in gt.buckets():
        sub = gt.subset(idx)
        new = reindex(gt.num_images, idx)
        d = new[det.image] >= 0
        rounded = np.rint(counts[idx]) if per_class else np.zeros((len(idx), 0))  # (n, K) or empty
        pred_image, pred_class = np.nonzero(rounded)
        table = CountTable(
            sub.num_images, sub.num_classes, gt_image=sub.gt_image, gt_class=sub.gt_class,
            det_image=new[det.image[d]], det_class=det.cls[d], det_score=det.score[d],
            pred_image=pred_image, pred_class=pred_class,
        )
        best, passes = official_sweep(lambda t: table.cacc_at(t, drop_undetected=True))
        history[name] = [{"thresholds": g.tolist(), "cAcc": s.tolist()} for g, s in passes]
        rows = {"num_images": sub.num_images,
                "sweep": {"threshold": best, **table.metrics_at(best, drop_undetected=True)}}
        if score_threshold is not None:
            fixed = float(score_threshold)
            rows["fixed"] = {"threshold": fixed, **table.metrics_at(fixed)}
        if counts is not None:
            view = {"threshold": None}
            if per_class:
                pred = table.scatter(pred_image, pred_class, rounded[pred_image, pred_class])
                view.update(table.metrics(pred))
            total_gt = np.bincount(sub.gt_image, minlength=sub.num_images)
            # count_acc of the density row rounds the total, not the sum of rounded channels
            view["count_acc"] = float(np.mean(np.rint(counts[idx].sum(axis=1)) == total_gt))
            rows["density"] = view
        levels[name] = rows
    return levels, history


def _percent(value):
    return None if value is None else 100.0 * value


def build_report(levels, history, ap=None, *, dataset="", num_channels=None, num_classes=None):
    """
    The report written to ``rpc_results.json``: leaderboard rows (display units), the nested
    per-level metrics, the sweep passes and notes. ``ap[name]`` = {"mAP50", "mmAP"} fractions.
    """
    rows, notes = [], list(NOTES)
    for name, modes in levels.items():
        level_ap = (ap or {}).get(name, {})
        for method in ("sweep", "fixed", "density"):
            if method not in modes:
                continue
            m = modes[method]
            row = {"level": name, "method": method}
            for key in COLUMNS[2:]:
                from_ap = key in ("mAP50", "mmAP") and method != "density"
                value = level_ap.get(key) if from_ap else m.get(key)
                row[key] = _percent(value) if key in _PERCENT else value
            rows.append(row)
            where = f"{name}/{method}"
            if m.get("images_dropped"):
                notes.append(f"{where}: {m['images_dropped']} of {modes['num_images']} images have "
                             "no detection >= threshold and are left out (official treatment).")
            if m.get("phantom_classes"):
                notes.append(f"{where}: {m['phantom_classes']} classes predicted without ground "
                             "truth: IoU 0 in mCIoU, left out of mCCD (official: inf).")
            if "cAcc" in m and m.get("mCCD") is None:
                notes.append(f"{where}: no ground-truth object, mCCD is undefined.")
    if not any("fixed" in modes for modes in levels.values()):
        notes.append("No fixed threshold given: fixed rows omitted.")
    if num_channels is not None and num_channels != num_classes:
        notes.append(f"Density counts have C={num_channels} channels, K={num_classes} classes: the "
                     "density row reports count_acc only.")
    if ap is None:
        notes.append("mAP not computed.")
    return {"dataset": dataset, "num_classes": num_classes, "columns": list(COLUMNS), "rows": rows,
            "levels": levels, "sweep": history, "notes": notes}


def _cell(key, value):
    if value is None:
        return "-"
    if key in _PERCENT:
        return f"{value:.2f}%"
    return f"{value:.4f}" if key == "threshold" else f"{value:.2f}"


def report_table(report):
    """The leaderboard table of a report, as markdown."""
    body = [[row["level"], row["method"], *(_cell(k, row[k]) for k in COLUMNS[2:])]
            for row in report["rows"]]
    return tabulate(body, headers=list(COLUMNS), tablefmt="pipe", stralign="right",
                    disable_numparse=True)


def report_text(report):
    """The table, the sweep's thresholds per level and the notes of a report, for the log."""
    sweep = ", ".join(f"{r['level']} {r['threshold']:.4f}"
                      for r in report["rows"] if r["method"] == "sweep")
    notes = "\n".join(f"- {n}" for n in report["notes"])
    return f"{report_table(report)}\nsweep thresholds: {sweep}\nNotes:\n{notes}"


def report_metrics(report):
    """Flat ``{"level/method/metric": float, "level/mAP50": float, ...}`` for Detectron2; metrics
    that are None (undefined) are left out."""
    flat = {}
    for row in report["rows"]:
        level, method = row["level"], row["method"]
        for key in _COUNT_KEYS:
            if row[key] is not None:
                flat[f"{level}/{method}/{key}"] = float(row[key])
        for key in ("mAP50", "mmAP"):
            if row[key] is not None:
                flat[f"{level}/{key}"] = float(row[key])
    return flat


def level_rows(report, level="averaged"):
    """The rows of one level of a report (``rpc_results.json``) by method: {method: row}."""
    return {row["method"]: row for row in report["rows"] if row["level"] == level}
