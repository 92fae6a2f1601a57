"""Fixtures of the augment tests: a tiny embedded set and a cut-out store from its true masks."""
import pytest

from dpsnet_d2.augment import CutoutStore
from dpsnet_d2.augment.true_mask_store import build_true_mask_store
from dpsnet_d2.data.synthetic_rpc import SynthConfig, generate_synthetic_rpc


@pytest.fixture(scope="session")
def tiny_embedded_root(tmp_path_factory):
    """A tiny embedded synthetic RPC (10 SKUs x 2 views at 128 px, 2 val scenes), read-only."""
    root = tmp_path_factory.mktemp("tiny_embedded") / "synthetic_rpc"
    cfg = SynthConfig(num_skus=10, views=2, num_val=2, num_test=0, size=128, seed=0)
    return generate_synthetic_rpc(str(root), cfg, progress=False)


@pytest.fixture(scope="session")
def true_store(tiny_embedded_root, tmp_path_factory):
    """A cut-out store built from the tiny set's TRUE masks (20 cut-outs, 10 SKUs)."""
    folder = str(tmp_path_factory.mktemp("stores") / "true")
    build_true_mask_store(tiny_embedded_root, folder)
    return CutoutStore(folder)
