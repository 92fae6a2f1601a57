"""The catalogue and the viewpoints: twins, super-categories, and small-visible-area views."""

import dataclasses

import numpy as np

from dpsnet_d2.data.datasets.rpc_format import RPC_SUPERCATEGORIES
from dpsnet_d2.data.synthetic_rpc import (
    Viewpoint,
    make_catalogue,
    render_view,
    train_viewpoints,
)


def test_catalogue_deterministic_grouped_with_twins():
    a, b = make_catalogue(20, 0), make_catalogue(20, 0)
    assert a == b and make_catalogue(20, 1) != a
    assert [s.sku_id for s in a] == list(range(1, 21))
    ranks = [RPC_SUPERCATEGORIES.index(s.supercategory) for s in a]
    assert ranks == sorted(ranks) and 4 <= len(set(ranks)) <= 17
    twins = [s for s in a if s.twin_of is not None]
    assert len(twins) == 5
    ignore = {"sku_id", "name", "twin_of"}
    for t in twins:
        original = a[t.twin_of - 1]
        assert original.supercategory == t.supercategory and original.family == t.family
        diff = {f.name for f in dataclasses.fields(t) if f.name not in ignore}
        diff = {k for k in diff if getattr(t, k) != getattr(original, k)}
        assert diff and diff <= {
            "label_colour",
            "text_colour",
            "stripe",
            "logo_shape",
            "accent",
            "tag",
        }


def test_pose_pruning_has_views_to_drop():
    """R(k, v) = A(k, v) / max_v A(k, v): edge-on views fall below 0.45, natural ones do not."""
    catalogue = make_catalogue(20, 0)
    views = train_viewpoints(12)
    below = 0
    for spec in catalogue:
        areas = np.array([(render_view(spec, v, 4.0)[1] > 0.5).sum() for v in views], np.float64)
        ratio = areas / areas.max()
        assert ratio[0] > 0.6
        below += int(ratio.min() < 0.45)
    assert below >= len(catalogue) // 2


def test_render_view_scales_and_rotates():
    spec = make_catalogue(4, 0)[0]
    _, a1 = render_view(spec, Viewpoint(), 4.0)
    _, a2 = render_view(spec, Viewpoint(), 8.0)
    assert abs(a2.sum() / a1.sum() - 4.0) < 0.3
    w_cm, h_cm, _ = spec.size_cm
    assert abs(a1.shape[0] - h_cm * 4.0) <= 3 and abs(a1.shape[1] - w_cm * 4.0) <= 3
    _, rot = render_view(spec, Viewpoint(rotation=90.0), 4.0)
    assert abs(rot.shape[0] - a1.shape[1]) <= 3 and abs(rot.shape[1] - a1.shape[0]) <= 3
