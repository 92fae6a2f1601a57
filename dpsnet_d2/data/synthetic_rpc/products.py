"""
The SKU catalogue of the synthetic RPC: procedurally designed retail products.

Every SKU is a :class:`ProductSpec`, fixed by the generator seed:

* a **super-category** from RPC's 17 (:data:`RPC_SUPERCATEGORIES`, in that order); a catalogue
  of K SKUs uses about K / 2.5 of them, so each holds a few SKUs, and the SKU ids 1..K are
  grouped by super-category (as in RPC);
* a **shape family** that suits the super-category (:data:`FAMILIES`: box, bottle, can, cup, bag,
  pouch, tube) and a **size** in centimetres: the front face is ``width`` x ``height``, ``depth``
  is the thickness seen in edge-on views (for the round families, bottle/can/cup, depth = width);
* a **printed design**: a palette, a background pattern (stripes, dots, checks, waves, gradient
  or plain), a label panel, a brand word and a logo.

Fine-grained confusions, as in RPC: every fourth SKU (ids 4, 8, 12, ... before sorting) is the
**twin** of the SKU before it, identical except for one small detail (:data:`TWIN_DETAILS`): the
label colour, an extra stripe, the logo, or a small flavour tag. Twins share the super-category.
"""

import colorsys
from dataclasses import dataclass, replace
from typing import Optional, Tuple

import numpy as np

from ..datasets.rpc_format import RPC_SUPERCATEGORIES

__all__ = [
    "FAMILIES",
    "FAMILY_SIZE_CM",
    "TWIN_DETAILS",
    "ProductSpec",
    "make_catalogue",
]

FAMILIES = ("box", "bottle", "can", "cup", "bag", "pouch", "tube")

# Shape families a super-category's products are drawn from.
_FAMILIES_OF = {
    "alcohol": ("bottle", "can"),
    "candy": ("bag", "pouch", "box"),
    "canned_food": ("can",),
    "chocolate": ("box", "pouch"),
    "dessert": ("box", "cup", "pouch"),
    "dried_food": ("bag", "pouch"),
    "dried_fruit": ("bag", "pouch"),
    "drink": ("bottle", "can", "box"),
    "gum": ("box",),
    "instant_drink": ("box", "pouch", "can"),
    "instant_noodles": ("cup", "bag"),
    "milk": ("box", "bottle"),
    "personal_hygiene": ("tube", "bottle", "box"),
    "puffed_food": ("bag",),
    "seasoner": ("bottle", "pouch", "can"),
    "stationery": ("box", "pouch"),
    "tissue": ("box", "pouch"),
}

# (width, height, depth) ranges in cm per family; ``None`` depth: round, depth = width.
FAMILY_SIZE_CM = {
    "box": ((6.0, 14.0), (8.0, 20.0), (2.5, 7.0)),
    "bottle": ((5.0, 8.0), (18.0, 27.0), None),
    "can": ((5.5, 8.0), (9.0, 14.0), None),
    "cup": ((9.0, 12.0), (7.0, 10.0), None),
    "bag": ((12.0, 20.0), (16.0, 26.0), (3.0, 6.0)),
    "pouch": ((9.0, 15.0), (12.0, 18.0), (1.0, 2.0)),
    "tube": ((4.0, 6.0), (14.0, 20.0), (2.5, 3.5)),
}

PATTERNS = ("stripes", "diagonal", "dots", "checks", "waves", "gradient", "plain")
LABEL_SHAPES = ("rect", "ellipse", "banner")
LOGO_SHAPES = ("circle", "triangle", "star", "diamond")
TWIN_DETAILS = ("label_colour", "stripe", "logo", "tag")

_CONSONANTS = "BCDFGKLMNPRSTVZ"
_VOWELS = "AEIOU"

RGB = Tuple[float, float, float]


@dataclass(frozen=True)
class ProductSpec:
    """
    One SKU. Colours are RGB in [0, 1]; positions are fractions of the front face.

    Attributes:
        sku_id: RPC-style category id (1-based).
        name: category name, ``"<id>_<supercategory>_<family>"``.
        supercategory: one of :data:`RPC_SUPERCATEGORIES`.
        family: one of :data:`FAMILIES`.
        size_cm: (width, height, depth) of the product.
        body, pattern_colour, label_colour, text_colour, accent: palette.
        pattern: one of ``PATTERNS``; pattern_period_cm, pattern_angle: its scale and direction.
        label_shape: one of ``LABEL_SHAPES``; label_y, label_w, label_h: its centre row and size.
        brand: the word printed on the label.
        logo_shape: one of ``LOGO_SHAPES``; logo_y: its centre row.
        stripe: (row, colour) of an extra horizontal band, or None.
        tag: colour of a small flavour tag in the lower right, or None.
        twin_of: the sku_id this SKU is a near copy of, or None.
    """

    sku_id: int
    name: str
    supercategory: str
    family: str
    size_cm: Tuple[float, float, float]
    body: RGB
    pattern_colour: RGB
    label_colour: RGB
    text_colour: RGB
    accent: RGB
    pattern: str
    pattern_period_cm: float
    pattern_angle: float
    label_shape: str
    label_y: float
    label_w: float
    label_h: float
    brand: str
    logo_shape: str
    logo_y: float
    stripe: Optional[Tuple[float, RGB]] = None
    tag: Optional[RGB] = None
    twin_of: Optional[int] = None

    @property
    def is_round(self) -> bool:
        """True for the cylindrical families (bottle, can, cup)."""
        return self.family in ("bottle", "can", "cup")


def _hsv(h, s, v) -> RGB:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _contrast_text(bg: RGB) -> RGB:
    luma = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]
    return (0.05, 0.05, 0.08) if luma > 0.5 else (0.97, 0.97, 0.95)


def _brand(rng) -> str:
    syllables = int(rng.integers(2, 4))
    return "".join(
        _CONSONANTS[int(rng.integers(len(_CONSONANTS)))] + _VOWELS[int(rng.integers(len(_VOWELS)))]
        for _ in range(syllables)
    )


def _new_spec(rng, supercategory) -> ProductSpec:
    family = str(rng.choice(_FAMILIES_OF[supercategory]))
    (w0, w1), (h0, h1), depth = FAMILY_SIZE_CM[family]
    width, height = float(rng.uniform(w0, w1)), float(rng.uniform(h0, h1))
    depth_cm = width if depth is None else float(rng.uniform(*depth))
    hue = float(rng.random())
    body = _hsv(hue, rng.uniform(0.45, 1.0), rng.uniform(0.45, 0.95))
    pattern_colour = _hsv(
        hue + rng.uniform(-0.08, 0.08), rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0)
    )
    label_colour = (
        _hsv(hue + 0.5 + rng.uniform(-0.1, 0.1), rng.uniform(0.5, 1.0), rng.uniform(0.6, 1.0))
        if rng.random() < 0.6
        else _hsv(0.0, 0.0, rng.uniform(0.9, 1.0))
    )
    return ProductSpec(
        sku_id=0,
        name="",
        supercategory=supercategory,
        family=family,
        size_cm=(width, height, depth_cm),
        body=body,
        pattern_colour=pattern_colour,
        label_colour=label_colour,
        text_colour=_contrast_text(label_colour),
        accent=_hsv(hue + 1.0 / 3.0, rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0)),
        pattern=str(rng.choice(PATTERNS)),
        pattern_period_cm=float(rng.uniform(0.8, 3.0)),
        pattern_angle=float(rng.uniform(0.0, np.pi)),
        label_shape=str(rng.choice(LABEL_SHAPES)),
        label_y=float(rng.uniform(0.4, 0.62)),
        label_w=float(rng.uniform(0.6, 0.9)),
        label_h=float(rng.uniform(0.2, 0.32)),
        brand=_brand(rng),
        logo_shape=str(rng.choice(LOGO_SHAPES)),
        logo_y=float(rng.uniform(0.14, 0.24)),
    )


def _twin(rng, spec: ProductSpec) -> ProductSpec:
    detail = TWIN_DETAILS[int(rng.integers(len(TWIN_DETAILS)))]
    hue = colorsys.rgb_to_hsv(*spec.label_colour)[0]
    if detail == "label_colour":
        label = _hsv(hue + rng.uniform(0.25, 0.75), rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))
        return replace(spec, label_colour=label, text_colour=_contrast_text(label))
    if detail == "stripe":
        return replace(spec, stripe=(float(rng.uniform(0.75, 0.85)), _hsv(rng.random(), 0.9, 0.9)))
    if detail == "logo":
        shapes = [s for s in LOGO_SHAPES if s != spec.logo_shape]
        return replace(
            spec, logo_shape=str(rng.choice(shapes)), accent=_hsv(rng.random(), 0.9, 0.95)
        )
    return replace(spec, tag=_hsv(rng.random(), 0.85, 0.95))


def make_catalogue(num_skus: int, seed: int):
    """
    Design ``num_skus`` products, deterministically for ``seed``.

    Returns:
        list[ProductSpec] of length ``num_skus``, ``sku_id`` = 1..num_skus, grouped by
        super-category in :data:`RPC_SUPERCATEGORIES` order.
    """
    if num_skus < 1:
        raise ValueError(f"num_skus must be >= 1, got {num_skus}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    num_super = int(np.clip(round(num_skus / 2.5), 1, len(RPC_SUPERCATEGORIES)))
    chosen = sorted(rng.choice(len(RPC_SUPERCATEGORIES), size=num_super, replace=False))
    order = [RPC_SUPERCATEGORIES[i] for i in rng.permutation(chosen)]
    specs, originals = [], 0
    for k in range(num_skus):
        if k % 4 == 3:
            specs.append(replace(_twin(rng, specs[-1]), twin_of=k - 1))
        else:
            specs.append(_new_spec(rng, order[originals % num_super]))
            originals += 1
    rank = {s: i for i, s in enumerate(RPC_SUPERCATEGORIES)}
    index = sorted(range(num_skus), key=lambda k: (rank[specs[k].supercategory], k))
    new_id = {k: i + 1 for i, k in enumerate(index)}
    return [
        replace(
            specs[k],
            sku_id=new_id[k],
            name=f"{new_id[k]}_{specs[k].supercategory}_{specs[k].family}",
            twin_of=None if specs[k].twin_of is None else new_id[specs[k].twin_of],
        )
        for k in index
    ]
