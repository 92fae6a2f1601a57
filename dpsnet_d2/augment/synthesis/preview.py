"""
A preview of checkout scene synthesis: cut-outs -> synthesized easy / medium / hard scenes with
their boxes -> real checkout scenes of an RPC-format set, one titled row each.
"""
import os

import numpy as np

from ...data.datasets.rpc_format import image_folder, json_name
from ...utils import atomic_write_bytes
from ...utils.images import encode
from ...utils.preview_grid import read_samples, titled_section
from .scene_synthesis import LEVELS, SceneSynthesizer, scene_rng

__all__ = ["make_synthesis_preview"]


def make_synthesis_preview(path: str, synthesizer: SceneSynthesizer, rpc_root: str, *,
                           cols: int = 6, thumb: int = 192, seed: int = 0) -> np.ndarray:
    """
    Save the preview to ``path`` (JPEG quality 85).

    Args:
        synthesizer: composes the scenes (its store gives the cut-outs row).
        rpc_root: an RPC-format folder whose val (else test) split gives the real scenes.
        cols: tiles per row; the synthesized row cycles through easy, medium, hard.
    Returns:
        the grid (H x W x 3 uint8 RGB).
    """
    store = synthesizer.store
    cutouts = []
    for i in np.linspace(0, len(store) - 1, cols).round().astype(int):
        rgba = store.get(int(i))
        side = max(rgba.shape[:2])
        tile = np.full((side, side, 3), 128, np.uint8)
        y0, x0 = (side - rgba.shape[0]) // 2, (side - rgba.shape[1]) // 2
        region = tile[y0 : y0 + rgba.shape[0], x0 : x0 + rgba.shape[1]]
        region[rgba[..., 3] > 0] = rgba[..., :3][rgba[..., 3] > 0]
        cutouts.append((tile, [], [], store.thing_classes[store.records[int(i)]["sku"]][:22]))
    scenes = []
    for k in range(cols):
        level = LEVELS[k * len(LEVELS) // cols]
        s = synthesizer(scene_rng(seed, k), level=level)
        boxes = [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in s.boxes.tolist()]
        scenes.append((s.image, boxes, s.classes.tolist(), f"{level}: {len(boxes)} items"))
    split = "val"
    real = read_samples(os.path.join(rpc_root, json_name(split)),
                        os.path.join(rpc_root, image_folder(split)), cols, spread=True)
    grid = np.vstack([
        titled_section("CUT-OUTS (the store: RGBA, alpha = mask)", cutouts, cols, thumb),
        titled_section("SYNTHESIZED checkout scenes: easy / medium / hard, visible boxes", scenes,
                 cols, thumb),
        titled_section("REAL checkout scenes of the embedded set (val, for comparison)", real, cols,
                 thumb),
    ])
    atomic_write_bytes(path, encode(grid, ".jpg", quality=85))
    return grid
