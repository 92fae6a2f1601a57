"""
Checkout scene synthesis: product cut-outs pasted onto an empty counter, as many and as stacked
as in real checkout images (docs/method.md, "checkout scene synthesis").

Shapes: H x W is the scene (the background's size); N: products annotated in the scene. Images
are uint8 RGB; a cut-out is h x w x 4 uint8 RGBA with alpha 0 / 255 (the cut-out store's format).

A scene is drawn in four steps:

1. **Level** easy / medium / hard by configurable weights; its numbers of categories and items
   come from the level's published ranges (easy 3-4 categories and at most 10 items, medium 5-7 /
   10-15, hard 8-10 / 15-20; :data:`LEVEL_SPECS`, shared with the embedded set's generator).
   Every chosen category appears at least once; a store with fewer SKUs than a level asks for
   gives fewer categories, never fewer items.
2. **Items**: per item a cut-out of its SKU, rotated uniformly in 0-360 degrees and scaled
   uniformly in ``scale_range`` x ``H_or_W_min / reference_size`` (the range is given for a scene
   of ``reference_size`` pixels, so small scenes hold the same number of items as large ones).
3. **Placement**, one item on top of the earlier ones, whole items inside the scene:

   * rule ``"mask"`` (default): a position is accepted only if every earlier item keeps at least
     ``min_visible`` of its own pixels visible, measured on the label map (so every item of the
     final scene is at least ``min_visible`` visible);
   * rule ``"box_iou"`` (the published implementation): the new item's box overlaps every earlier
     box with IoU <= ``max_iou``.

   After ``max_tries`` refused positions (the item shrinks by 15 % every ``max_tries // 4``) the
   item is left out (logged; counted in :attr:`SceneSynthesizer.skipped`).
4. **Annotations** from the final label map: each item's box is tight to its visible pixels, its
   mask is its visible pixels; items with less than ``drop_below`` visible are not annotated.

Steps 1-2 and the background are :class:`SceneSynthesizer`'s; steps 3-4 are
:func:`~.compose.compose_scene`'s (returning the typed :class:`~.compose.SynthesizedScene`).

Backgrounds: photos of the empty counter from a folder (resized so the short side is
``canvas_size`` or the size asked for), else one of 32 generated plain counters of that side
(the same 32 in every process).
"""
import glob
import logging
import os
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from detectron2.data.transforms import ResizeShortestEdge

from ...data.datasets.rpc_levels import LEVEL_SPECS, sample_scene_plan
from .compose import RULES, SynthesizedScene, compose_scene

__all__ = ["LEVELS", "LEVEL_SPECS", "SceneSynthesizer", "list_background_images", "plain_counter",
           "scene_rng"]

logger = logging.getLogger(__name__)

# The synthesis levels, in the order of the level weights.
LEVELS = ("easy", "medium", "hard")
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
# Generated counters per scene size, drawn once per process (a counter costs more than a scene).
_COUNTER_POOL = 32


def list_background_images(folder: str) -> List[str]:
    """
    The image files of a folder of empty-counter photos, sorted; [] for "" (plain counters).

    Raises:
        ValueError: naming the folder, when it holds no image.
    """
    if not folder:
        return []
    files = sorted(f for f in glob.glob(os.path.join(folder, "*"))
                   if f.lower().endswith(_IMAGE_EXTS))
    if not files:
        raise ValueError(f"background folder {folder!r} holds no images ({_IMAGE_EXTS})")
    return files


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of scene ``index`` under ``seed`` (independent streams per index)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index)])


def plain_counter(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """
    A generated empty counter: a white-ish tinted board with soft shading and, at times, a dark
    counter edge along one side. Returns H x W x 3 uint8 RGB.
    """
    white = rng.uniform(0.72, 0.95) * 255.0
    tint = np.asarray([1.0, rng.uniform(0.96, 1.02), rng.uniform(0.9, 1.03)], np.float32)
    shade = rng.normal(1.0, 0.04, (4, 4, 1)).astype(np.float32)  # soft light, upsampled
    small = np.clip(shade * (white * tint), 0, 255).astype(np.uint8)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        side, edge = int(rng.integers(4)), int(min(height, width) * rng.uniform(0.03, 0.08))
        colour = np.asarray(rng.uniform(30, 90) * np.asarray([1.0, 0.95, 0.9]), np.uint8)
        sl = [(slice(None), slice(0, edge)), (slice(None), slice(width - edge, None)),
              (slice(0, edge), slice(None)), (slice(height - edge, None), slice(None))][side]
        img[sl] = colour
    return img


class SceneSynthesizer:
    """
    Callable: (numpy Generator) -> :class:`SynthesizedScene`, drawing level, products, cut-outs
    and background from a cut-out store (see the module docstring). Picklable (for data-loader
    workers); backgrounds read from a folder are cached per process.
    """

    def __init__(
        self,
        store,
        *,
        level_weights: Sequence[float] = (1.0, 1.0, 1.0),
        scale_range: Tuple[float, float] = (0.45, 0.75),
        reference_size: int = 512,
        canvas_size: int = 512,
        rule: str = "mask",
        min_visible: float = 0.5,
        max_iou: float = 0.5,
        drop_below: float = 0.5,
        max_tries: int = 40,
        background_dir: str = "",
        background_cache_mb: float = 256.0,
    ):
        """
        Args:
            store: a :class:`~dpsnet_d2.augment.cutouts.CutoutStore` (kept cut-outs are used).
            level_weights: weights of easy, medium, hard (>= 0, not all 0).
            scale_range: (lo, hi) cut-out scale for a scene of ``reference_size`` pixels.
            reference_size: scene side (pixels) ``scale_range`` is given for.
            canvas_size: side of generated counters / short side of background photos.
            rule, min_visible, max_iou, drop_below, max_tries: see the module docstring.
            background_dir: folder of empty-counter photos; "" generates plain counters.
            background_cache_mb: photos kept decoded and resized per process (MiB, least
                recently used dropped first; at least one is kept).
        Raises:
            ValueError: an empty store, bad weights / ranges, or levels that cannot fit (the
                items of the largest level, at ``min_visible``, would need more than the scene).
        """
        self.by_sku: Dict[int, np.ndarray] = store.by_sku(kept_only=True)
        if not self.by_sku:
            raise ValueError(f"cut-out store {store.folder}: no kept cut-outs to synthesize from")
        weights = np.asarray(level_weights, np.float64)
        if weights.shape != (len(LEVELS),) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"level weights {list(level_weights)}: need 3 values >= 0, not all 0")
        lo, hi = (float(v) for v in scale_range)
        if not 0 < lo <= hi:
            raise ValueError(f"scale range {list(scale_range)}: need 0 < lo <= hi")
        if rule not in RULES:
            raise ValueError(f"visibility rule {rule!r}; choose one of {RULES}")
        if not 0 <= min_visible <= 1 or not 0 <= drop_below <= 1 or max_tries < 1:
            raise ValueError("min_visible and drop_below must lie in [0, 1], max_tries >= 1")
        self.store = store
        self.level_probs = weights / weights.sum()
        self.scale_range = (lo, hi)
        self.reference_size = int(reference_size)
        self.canvas_size = int(canvas_size)
        self.rule, self.min_visible, self.max_iou = rule, float(min_visible), float(max_iou)
        self.drop_below, self.max_tries = float(drop_below), int(max_tries)
        self.skus = np.asarray(sorted(self.by_sku), np.int64)
        self.background_files = list_background_images(background_dir)
        # (path, size, max_size) -> resized RGB photo, least recently used first
        self._backgrounds: "OrderedDict[tuple, np.ndarray]" = OrderedDict()
        self._background_bytes = 0
        self.background_cache_bytes = int(background_cache_mb * 2 ** 20)
        self._counters: Dict[int, List[np.ndarray]] = {}
        self.skipped = 0
        self._warned_resolution = False
        self._check_fits()

    def _check_fits(self) -> None:
        """Refuse levels whose items cannot all stay ``min_visible`` visible in the scene."""
        # a cut-out's mask fills ~60 % of its crop; the scene's items are scaled by >= lo
        areas = [0.6 * np.prod(self.store.source_shape(i)) for i in self.store.kept()]
        mean_lo = float(np.mean(areas)) * (self.scale_range[0] * self.canvas_size
                                           / self.reference_size) ** 2
        for level, p in zip(LEVELS, self.level_probs):
            most = max(LEVEL_SPECS[level].items)
            need = most * (self.min_visible if self.rule == "mask" else 0.5) * mean_lo
            if p > 0 and need > self.canvas_size ** 2:
                raise ValueError(
                    f"level {level!r} cannot fit: {most} items at scale {self.scale_range[0]} "
                    f"need ~{need:.0f} visible pixels, the {self.canvas_size}^2 scene has "
                    f"{self.canvas_size ** 2}; lower INPUT.SYNTHESIS.SCALE_RANGE or the weight"
                )

    def _check_resolution(self, f: float) -> None:
        """Warn once when scenes of this size scale cut-outs beyond the store's resolution cap
        (they are then magnified: blurrier than the source)."""
        need = min(1.0, self.scale_range[1] * f)  # beyond 1 the source itself is magnified
        if need > self.store.max_scale * 1.001 and not self._warned_resolution:
            self._warned_resolution = True
            logger.warning(
                f"[SceneSynthesizer] scenes of short side {f * self.reference_size:.0f} scale "
                f"cut-outs up to {need:.3f}, the store {self.store.folder} keeps them at "
                f"{self.store.max_scale:.3f}: they are magnified (write the store with the "
                "synthesis config that trains, cutout_scale_cap)"
            )

    def background(self, rng: np.random.Generator, size: Optional[int] = None,
                   max_size: int = 0) -> np.ndarray:
        """
        H x W x 3 uint8 RGB, read-only: a photo of the folder (cached resized), short side ``size``
        (default ``canvas_size``), long side at most ``max_size`` (0: no limit) as D2's
        ``ResizeShortestEdge`` would; or a generated counter of that size.
        """
        size = int(size or self.canvas_size)
        if not self.background_files:
            side = min(size, max_size) if max_size else size
            if side not in self._counters:  # a fixed pool per size: the same in every process
                pool_rng = np.random.default_rng([side, 0x5C3E])
                self._counters[side] = [plain_counter(pool_rng, side, side)
                                        for _ in range(_COUNTER_POOL)]
            return self._counters[side][int(rng.integers(_COUNTER_POOL))]
        path = self.background_files[int(rng.integers(len(self.background_files)))]
        key = (path, size, max_size)
        img = self._backgrounds.get(key)
        if img is None:  # decode + resize a photo costs more than composing the scene
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"background {path}: not a readable image")
            h, w = ResizeShortestEdge.get_output_shape(img.shape[0], img.shape[1], size,
                                                       max_size or 10 ** 9)
            img = cv2.cvtColor(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA),
                               cv2.COLOR_BGR2RGB)
            img.flags.writeable = False  # shared by the scenes that draw it: compose copies it
            self._backgrounds[key] = img
            self._background_bytes += img.nbytes
            while (self._background_bytes > self.background_cache_bytes
                   and len(self._backgrounds) > 1):
                _, dropped = self._backgrounds.popitem(last=False)  # least recently used
                self._background_bytes -= dropped.nbytes
        else:
            self._backgrounds.move_to_end(key)
        return img

    def __call__(self, rng: np.random.Generator, *, level: Optional[str] = None,
                 with_masks: bool = False, size: Optional[int] = None,
                 max_size: int = 0) -> SynthesizedScene:
        """
        Args:
            rng: the scene's generator (e.g. :func:`scene_rng`).
            level: force a level; None draws one by the level weights.
            with_masks: also build the N x H x W visible masks.
            size, max_size: the scene's short side (default ``canvas_size``) and the limit of
                its long side, see :meth:`background`; product sizes scale along.
        """
        if level is None:
            level = LEVELS[int(rng.choice(len(LEVELS), p=self.level_probs))]
        plan = self.skus[sample_scene_plan(level, len(self.skus), rng)]
        ids = np.asarray([rng.choice(self.by_sku[int(s)]) for s in plan], np.int64)
        background = self.background(rng, size, max_size)
        f = min(background.shape[:2]) / self.reference_size
        self._check_resolution(f)
        scene = compose_scene(
            background, [self.store.get(int(i)) for i in ids], rng,
            cutout_scales=[self.store.scale(int(i)) for i in ids],
            scale_range=(self.scale_range[0] * f, self.scale_range[1] * f), rule=self.rule,
            min_visible=self.min_visible, max_iou=self.max_iou, drop_below=self.drop_below,
            max_tries=self.max_tries, with_masks=with_masks, classes=plan, level=level,
        )
        if scene.skipped or scene.shrunk:
            if not self.skipped:
                logger.warning(
                    f"[SceneSynthesizer] a {level} scene: {scene.skipped} cut-out(s) found no "
                    f"place, {scene.shrunk} shrunk to fit the {background.shape[:2]} scene; "
                    "further cases are counted in .skipped without a log line"
                )
            self.skipped += scene.skipped + scene.shrunk
        scene.cutouts = ids[scene.cutouts]  # list positions -> store indices
        return scene
