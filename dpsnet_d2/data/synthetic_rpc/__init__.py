"""
The embedded synthetic RPC: a procedural stand-in for the Retail Product Checkout dataset that
runs anywhere (no download), in RPC's official layout and JSON schema.

* :mod:`.products` - the SKU catalogue (shape families, sizes, printed designs, super-categories,
  near-identical twins);
* :mod:`.artwork` - a product's printed faces and outline;
* :mod:`.render_product` - a product seen from a viewpoint (natural to edge-on);
* :mod:`.turntable` - train images: one product on a turntable in a studio (+ true mask);
* :mod:`.checkout` - val/test scenes per level (:mod:`dpsnet_d2.data.datasets.rpc_levels`):
  stacked products, clutter, uneven light;
* :mod:`.clutter`, :mod:`.compose` - non-product items and compositing helpers;
* :mod:`.writer` - layout, JSON schema, atomic writing; :mod:`.generate` - the whole dataset;
* :mod:`.preview` - a grid of train vs test images.

Command line: ``tools/make_synthetic_rpc.py``. Registration as ``synth_rpc_{train,val,test}`` is
done by :mod:`dpsnet_d2.data.datasets.synthetic`.
"""

from .checkout import render_checkout_image, render_empty_counter
from .generate import (
    FORMAT_VERSION,
    SynthConfig,
    check_format_version,
    generate_synthetic_rpc,
    render_checkout,
    render_train,
)
from .preview import make_preview
from .products import ProductSpec, make_catalogue
from .render_product import Viewpoint, render_view, train_viewpoints

__all__ = [
    "FORMAT_VERSION",
    "check_format_version",
    "render_empty_counter",
    "ProductSpec",
    "SynthConfig",
    "Viewpoint",
    "generate_synthetic_rpc",
    "make_catalogue",
    "make_preview",
    "render_checkout",
    "render_checkout_image",
    "render_train",
    "render_view",
    "train_viewpoints",
]
