"""tools/benchmark_render.py: colour distance, the domain classifier and the throughput line."""
import re

import numpy as np


def test_colour_w2(load_tool):
    w2 = load_tool("benchmark_render").colour_w2
    a = [np.full((4, 4, 3), 100, np.uint8)]
    assert np.allclose(w2(a, a), 0)
    b = [np.full((4, 4, 3), (110, 100, 70), np.uint8)]
    assert np.allclose(w2(a, b), [10, 0, 30])


def test_classifier_sees_an_obvious_gap(load_tool):
    rng = np.random.default_rng(0)
    dark = [rng.integers(0, 90, (32, 32, 3), dtype=np.uint8) for _ in range(10)]
    bright = [rng.integers(160, 255, (32, 32, 3), dtype=np.uint8) for _ in range(10)]
    assert load_tool("benchmark_render").classifier_accuracy(dark, bright, seed=0, epochs=6) >= 0.8


def test_throughput_line(load_tool, capsys):
    args = ["--size", "32", "--iters", "1", "--threads", "1"]
    assert load_tool("benchmark_render").main(args) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"published generator \(9 blocks, 64 ch\) at 32 px, batch 1: [0-9.e+-]+ images/s", out
    )
