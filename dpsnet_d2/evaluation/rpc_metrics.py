"""
Counting metrics of the RPC check-out protocol and the official threshold sweep (numpy only).

Shapes: N images, K classes, G ground-truth objects, D detections, M cells. A *cell* is an
(image, class) pair with ground truth or at least one prediction; every other pair has
P = G = 0 and changes no metric, so counts are kept per cell (sparse) instead of N x K.

Definitions (docs/method.md §5, checked against the official tool ``rpctool`` 0.1.6,
``evaluate_v1/evaluate.py`` and ``evaluateByBbox.py``). P[i, k] / G[i, k] are the predicted /
true counts of class k in image i; a detection counts when ``score >= t``.

* cAcc  = #{i : P[i] == G[i]} / N
* ACD   = sum_{i,k} |P - G| / N
* mCCD  = mean over classes k of  sum_i |P[i, k] - G[i, k]| / sum_i G[i, k]
* mCIoU = mean over classes k of  sum_i min(P, G)[i, k] / sum_i max(P, G)[i, k]
* count_acc (ours, not official) = #{i : sum_k P[i, k] == sum_k G[i, k]} / N

Classes with no ground truth in the evaluated images. The official tool divides by K and sums
per-class ratios, so a class with neither ground truth nor prediction (0 / 0) makes mCCD and
mCIoU NaN, and a class predicted without ground truth (a "phantom") makes mCCD inf while its
IoU is a well-defined 0. Here:

* mCIoU is the mean over the classes with ground truth *or* a prediction: a phantom counts as
  IoU 0, a class with neither is left out. Whenever the official value is finite it is this one.
* mCCD is the mean over the classes with ground truth (the only ones where it is finite); with
  phantoms the official value is inf, so ``phantom_classes`` reports how many were left out.
* With no ground-truth object at all, mCCD is None; mCIoU is None when there is no ground truth
  and no prediction either.

Which images form N: with ``drop_undetected=False`` (our fixed mode) every image. The official
tool builds its count vectors in a dict keyed only by images that have a detection >= t, so an
image with none drops out of every count metric; ``drop_undetected=True`` reproduces that (the
official sweep) and reports how many images it dropped. When no image has a detection the
official tool crashes; here every image is kept.

The sweep (``official_sweep``): pass 1 evaluates cAcc on ``np.linspace(0.01, 0.99, 10)``; each
next pass evaluates ``np.linspace(lo, hi, 10)`` with lo / hi the smallest / largest threshold of
the previous pass's 3 best (ties: the earlier threshold, as ``pandas.nlargest``); after 4 passes
the threshold is the first best of the *last* pass only (as the official tool).
"""
import numpy as np

__all__ = ["CountTable", "official_sweep"]


def _as_index(values, name, upper):
    """Return ``values`` as an int64 array (L,), checking 0 <= value < upper."""
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    if values.size and (values.min() < 0 or values.max() >= upper):
        raise ValueError(
            f"{name} must lie in [0, {upper}); got values in [{values.min()}, {values.max()}]"
        )
    return values


class CountTable:
    """
    Ground truth and predictions of N images over K classes, counted per cell.

    Detections (image, class, score) give predicted counts at any threshold; other predictions
    (e.g. rounded density sums) are passed to :meth:`metrics` per cell via :meth:`scatter`.
    """

    def __init__(self, num_images, num_classes, *, gt_image, gt_class, det_image=(), det_class=(),
                 det_score=(), pred_image=(), pred_class=()):
        """
        Args:
            num_images (int): N.
            num_classes (int): K.
            gt_image, gt_class: (G,) image index in [0, N) and class in [0, K) of each object.
            det_image, det_class, det_score: (D,) detections; scores are compared in float64.
            pred_image, pred_class: (L,) extra cells that predictions passed to
                :meth:`scatter` may occupy (e.g. the nonzero entries of a count matrix).
        """
        self.num_images, self.num_classes = int(num_images), int(num_classes)
        gt_image = _as_index(gt_image, "gt_image", self.num_images)
        gt_class = _as_index(gt_class, "gt_class", self.num_classes)
        det_image = _as_index(det_image, "det_image", self.num_images)
        det_class = _as_index(det_class, "det_class", self.num_classes)
        det_score = np.asarray(det_score, dtype=np.float64).reshape(-1)
        pred_image = _as_index(pred_image, "pred_image", self.num_images)
        pred_class = _as_index(pred_class, "pred_class", self.num_classes)
        if not (len(gt_image) == len(gt_class)
                and len(det_image) == len(det_class) == len(det_score)
                and len(pred_image) == len(pred_class)):
            raise ValueError("image, class (and score) arrays of one kind must have equal lengths")

        k = self.num_classes
        keys = np.concatenate([gt_image * k + gt_class, det_image * k + det_class,
                               pred_image * k + pred_class])
        self._keys, inverse = np.unique(keys, return_inverse=True)
        self.cell_image = self._keys // k  # (M,)
        self.cell_class = self._keys % k  # (M,)
        num_cells = len(self._keys)
        self.gt = np.bincount(inverse[: len(gt_image)], minlength=num_cells)  # (M,)
        det_cell = inverse[len(gt_image): len(gt_image) + len(det_image)]

        order = np.argsort(-det_score, kind="stable")  # scores high to low: a threshold is a prefix
        self._neg_score = -det_score[order]  # ascending
        self._det_cell = det_cell[order]
        self._det_image = det_image[order]

    def scatter(self, image, cls, values):
        """
        Per-cell counts from (L,) image indices, classes and integer counts; every (image, class)
        with a nonzero count must be a cell (given to the constructor). Returns (M,) int64.
        """
        image, cls = np.asarray(image, np.int64), np.asarray(cls, np.int64)
        values = np.asarray(values, np.int64)
        keys = image * self.num_classes + cls
        cells = np.searchsorted(self._keys, keys)
        cells = np.minimum(cells, max(len(self._keys) - 1, 0))
        nonzero = values != 0
        missing = len(self._keys) == 0 or np.any(self._keys[cells[nonzero]] != keys[nonzero])
        if nonzero.any() and missing:
            raise ValueError("scatter: a nonzero count falls outside the table's cells")
        pred = np.bincount(cells[nonzero], weights=values[nonzero], minlength=len(self._keys))
        return pred.astype(np.int64)

    def _num_kept(self, threshold):
        """Number of detections with score >= threshold (a prefix of the sorted detections)."""
        return int(np.searchsorted(self._neg_score, -float(threshold), side="right"))

    def detection_counts(self, threshold):
        """(M,) int64 predicted counts from the detections with ``score >= threshold``."""
        n = self._num_kept(threshold)
        return np.bincount(self._det_cell[:n], minlength=len(self._keys))

    def _evaluated_images(self, threshold, drop_undetected):
        """(N,) bool: images that form N (see module docstring)."""
        evaluated = np.ones(self.num_images, dtype=bool)
        if drop_undetected:
            detected = np.zeros(self.num_images, dtype=bool)
            detected[self._det_image[: self._num_kept(threshold)]] = True
            if detected.any():
                evaluated = detected
        return evaluated

    def cacc_at(self, threshold, *, drop_undetected=False):
        """cAcc (a fraction) of the detections with ``score >= threshold``; fast, for the sweep."""
        pred = self.detection_counts(threshold)
        wrong = np.zeros(self.num_images, dtype=bool)
        wrong[self.cell_image[pred != self.gt]] = True
        evaluated = self._evaluated_images(threshold, drop_undetected)
        num = np.count_nonzero(evaluated)
        return np.count_nonzero(evaluated & ~wrong) / num if num else 0.0

    def metrics_at(self, threshold, *, drop_undetected=False):
        """:meth:`metrics` of the detections with ``score >= threshold``."""
        evaluated = self._evaluated_images(threshold, drop_undetected)
        return self.metrics(self.detection_counts(threshold), evaluated=evaluated)

    def metrics(self, pred, *, evaluated=None):
        """
        Args:
            pred: (M,) predicted counts per cell (:meth:`detection_counts` or :meth:`scatter`).
            evaluated: (N,) bool, the images that form N for cAcc / ACD / mCCD / mCIoU
                (default: all); count_acc always uses every image.
        Returns:
            dict: cAcc, count_acc (fractions), ACD, mCCD, mCIoU (None without ground truth),
            num_images (N used), images_dropped, classes_with_gt, phantom_classes.
        """
        pred = np.asarray(pred, dtype=np.int64)
        n_all, k = self.num_images, self.num_classes
        if evaluated is None:
            evaluated = np.ones(n_all, dtype=bool)
        diff = np.abs(pred - self.gt)
        keep = evaluated[self.cell_image]
        img, cls = self.cell_image[keep], self.cell_class[keep]
        gt, pr, dk = self.gt[keep], pred[keep], diff[keep]

        wrong = np.zeros(n_all, dtype=bool)
        wrong[img[dk > 0]] = True
        num = int(np.count_nonzero(evaluated))
        class_gt = np.bincount(cls, weights=gt, minlength=k)
        class_cd = np.bincount(cls, weights=dk, minlength=k)
        class_min = np.bincount(cls, weights=np.minimum(pr, gt), minlength=k)
        class_max = np.bincount(cls, weights=np.maximum(pr, gt), minlength=k)
        class_pred = np.bincount(cls, weights=pr, minlength=k)
        present = class_gt > 0
        defined = class_max > 0  # ground truth or a prediction: the IoU is 0/0 otherwise

        total_pred = np.bincount(self.cell_image, weights=pred, minlength=n_all)
        total_gt = np.bincount(self.cell_image, weights=self.gt, minlength=n_all)
        return {
            "cAcc": np.count_nonzero(evaluated & ~wrong) / num if num else 0.0,
            "ACD": float(dk.sum()) / num if num else 0.0,
            "mCCD": _mean_ratio(class_cd, class_gt, present),
            "mCIoU": _mean_ratio(class_min, class_max, defined),
            "count_acc": float(np.mean(total_pred == total_gt)) if n_all else 0.0,
            "num_images": num,
            "images_dropped": n_all - num,
            "classes_with_gt": int(np.count_nonzero(present)),
            "phantom_classes": int(np.count_nonzero(~present & (class_pred > 0))),
        }


def _mean_ratio(numerator, denominator, where):
    """Mean of numerator / denominator (K,) over ``where``; None when ``where`` is empty."""
    return float(np.mean(numerator[where] / denominator[where])) if where.any() else None


def official_sweep(score_fn, *, low=0.01, high=0.99, num=10, passes=4, keep=3):
    """
    The official tool's threshold search (module docstring).

    Args:
        score_fn: callable(threshold: float) -> float to maximise (cAcc).
    Returns:
        (best threshold: float, history: list of (grid (num,), scores (num,)) per pass)
    """
    span = (low, high)
    history = []
    for _ in range(passes):
        grid = np.linspace(min(span), max(span), num)
        scores = np.array([score_fn(t) for t in grid], dtype=np.float64)
        history.append((grid, scores))
        span = grid[np.argsort(-scores, kind="stable")[:keep]]
    grid, scores = history[-1]
    return float(grid[int(np.argmax(scores))]), history
