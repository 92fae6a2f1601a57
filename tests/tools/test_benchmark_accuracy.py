"""
tools/benchmark_accuracy.py: every variant gets the same total number of iterations, the
variants run the stages they name, and the table marks what is missing.
"""
import pytest


def _value(argv, key):
    return argv[argv.index(key) + 1]


def _iterations(commands):
    """Total training iterations of one run's commands (train_net or distill_net + eval)."""
    train = commands[0]
    if "--rounds" not in train:
        return int(_value(train, "SOLVER.MAX_ITER"))
    total = int(_value(train, "DISTILL.SOURCE_ITERS"))
    total += int(_value(train, "--rounds")) * int(_value(train, "DISTILL.ITERS_PER_ROUND"))
    if _value(train, "DISTILL.REFINE.ENABLED") == "True":
        total += int(_value(train, "DISTILL.REFINE.ITERS"))
    return total


@pytest.mark.parametrize("preset", ["cpu", "gpu"])
def test_every_variant_trains_the_same_total_iterations(load_tool, preset, tmp_path):
    tool = load_tool("benchmark_accuracy")
    p = tool.PRESETS[preset]
    for variant in tool.VARIANTS:
        commands, weights = tool.run_commands(variant, 0, p, "STORE", str(tmp_path / variant))
        # the rounds split what S leaves; integer division may leave < rounds iterations unused
        assert p["iters"] - p["rounds"] < _iterations(commands) <= p["iters"], variant
        train = commands[0]
        assert ("--rounds" in train) == (variant in ("c", "d", "c_super", "c_cat"))
        assert (weights is None) == (len(commands) == 1)
        if variant == "a":
            assert _value(train, "MODEL.DENSITY_HEAD.ENABLED") == "False"
        if variant == "f":
            assert "INPUT.SYNTHESIS.CUTOUT_STORE" not in train
        else:
            assert _value(train, "INPUT.SYNTHESIS.CUTOUT_STORE") == "STORE"
        if variant in ("c", "d", "c_super", "c_cat"):
            mode = _value(train, "MODEL.DENSITY_HEAD.CHANNEL_MODE")
            assert mode == {"c_super": "supercategory", "c_cat": "category"}.get(
                variant, "agnostic")
            assert _value(train, "DISTILL.REFINE.ENABLED") == str(variant == "d")
            assert _value(commands[1], "MODEL.DENSITY_HEAD.CHANNEL_MODE") == mode


def test_table_shows_missing_values_and_spread(load_tool):
    tool = load_tool("benchmark_accuracy")
    keys = [f"{m}/{k}" for m, k in tool.COLUMNS]
    rows = [
        {"variant": "b", "seed": s, **{k: 10.0 + s for k in keys}, "consistency": None,
         "minutes": 2.0}
        for s in (0, 1)
    ]
    text, summary = tool.table(rows, ["b", "c"])
    b_line = next(line for line in text.splitlines() if line.startswith("| (b)"))
    c_line = next(line for line in text.splitlines() if line.startswith("| (c)"))
    assert "10.50 ± 0.71 %" in b_line and "| - |" in b_line  # mean ± std; no consistency
    assert c_line.count("| -") == len(keys) + 2  # no run of (c): every cell missing
    assert summary["b"]["sweep/mCIoU"]["mean"] == pytest.approx(10.5)


def test_plot_writes_a_png_with_missing_variants(load_tool, tmp_path):
    tool = load_tool("benchmark_accuracy")
    keys = [f"{m}/{k}" for m, k in tool.COLUMNS]
    rows = [{"variant": "b", "seed": 0, **{k: 5.0 for k in keys}, "consistency": None,
             "minutes": 1.0}]
    _, summary = tool.table(rows, ["a", "b"])
    path = str(tmp_path / "accuracy.png")
    tool.plot(summary, ["a", "b"], path)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_cpu_preset_is_the_b_c_pair_from_one_shared_source(load_tool, tmp_path):
    tool = load_tool("benchmark_accuracy")
    p = tool.PRESETS["cpu"]
    assert p["variants"] == ["b", "c"] and len(p["seeds"]) == 2
    assert p["shared_source"]["config"].endswith("dpsnet_R_18_source_cpu.yaml")
    cmd = tool.source_command(p, "STORE", str(tmp_path / "source"))
    assert _value(cmd, "SOLVER.MAX_ITER") == str(p["shared_source"]["iters"])
    assert _value(cmd, "INPUT.SYNTHESIS.CUTOUT_STORE") == "STORE"
    # with the shared checkpoint, (b) and (c) both start from it and spend T after it
    shared = dict(p, source_weights="SRC.pth", truth="TRUTH.json")
    for variant in ("b", "c"):
        commands, _ = tool.run_commands(variant, 1, shared, "STORE", str(tmp_path / variant))
        assert _value(commands[0], "MODEL.WEIGHTS") == "SRC.pth"
        assert _iterations(commands) == p["iters"]
        if variant == "b":  # the rounds' schedule: constant DISTILL.BASE_LR
            assert _value(commands[0], "SOLVER.STEPS") == "()"
            assert _value(commands[0], "SOLVER.WARMUP_ITERS") == "0"
    assert commands[-1][1].endswith("audit_pseudo_labels.py")
    assert _value(commands[-1], "--ground-truth") == "TRUTH.json"
    # an existing shared checkpoint is reused, not retrained
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "model_final.pth").write_bytes(b"x")
    assert tool.shared_source(p, "STORE", str(tmp_path), {}) == str(
        tmp_path / "source" / "model_final.pth")


def test_rounds_table_lists_rate_tau_and_audited_precision(load_tool):
    tool = load_tool("benchmark_accuracy")
    stage = {"consistency_rate": 0.07, "threshold": 0.65, "audit": {"precision": 0.935}}
    cell = tool.stage_cell(stage)
    assert cell == "7.0 % (tau 0.65, precision 93.5 %)"
    assert tool.stage_cell({"consistency_rate": 0.0, "threshold": 0.8}).endswith("precision -)")
    text = tool.rounds_table([{"variant": "c", "seed": 0, "rounds": [cell, cell]},
                              {"variant": "b", "seed": 0, "rounds": []}])
    assert "| c seed 0 | " + cell + " | " + cell + " |" in text and "b seed" not in text
    assert tool.rounds_table([{"variant": "b", "seed": 0, "rounds": []}]) == ""
