"""tools/benchmark_render.py: the throughput line."""
import re


def test_throughput_line(load_tool, capsys):
    args = ["--size", "32", "--iters", "1", "--threads", "1"]
    assert load_tool("benchmark_render").main(args) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"published generator \(9 blocks, 64 ch\) at 32 px, batch 1: [0-9.e+-]+ images/s", out
    )
