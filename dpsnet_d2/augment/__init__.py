"""
The paper's source side: from single products on a turntable to checkout-like training scenes.

Background removal (coarse masks) -> saliency refinement -> pose pruning -> cut-out store ->
checkout scene synthesis (and its dataset mapper) -> render (CycleGAN). See docs/method.md.
"""
