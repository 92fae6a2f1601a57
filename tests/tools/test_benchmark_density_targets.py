"""tools/benchmark_density_targets.py: the vectorised generator agrees with the per-object loop."""


def test_table_rows_agree_with_the_reference(load_tool, capsys):
    args = ["--size", "128", "--objects", "3", "7", "--channels", "1", "4", "--iters", "1"]
    load_tool("benchmark_density_targets").main(args)
    rows = [line for line in capsys.readouterr().out.splitlines() if line[:3] in ("| 3", "| 7")]
    assert len(rows) == 4
    for row in rows:
        assert float(row.strip("| ").split("|")[-1]) < 1e-6  # max abs difference
