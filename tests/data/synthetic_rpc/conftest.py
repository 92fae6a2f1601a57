"""A tiny synthetic RPC, generated once for the tests of this folder."""

import pytest

from dpsnet_d2.data.synthetic_rpc import SynthConfig, generate_synthetic_rpc

TINY = SynthConfig(num_skus=4, views=3, train_per_view=1, num_val=6, num_test=9, num_counters=3,
                   size=128, seed=0)


@pytest.fixture(scope="session")
def tiny_cfg():
    """The tiny settings: 4 SKUs x 3 views, 6 val and 9 test scenes, 128 px."""
    return TINY


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory):
    """(root, cfg) of a tiny synthetic RPC written with one process."""
    root = tmp_path_factory.mktemp("synth") / "synthetic_rpc"
    generate_synthetic_rpc(str(root), TINY, workers=1, progress=False)
    return str(root), TINY
