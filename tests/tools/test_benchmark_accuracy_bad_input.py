"""
tools/benchmark_accuracy.py on bad input, one test per kind: options, the cut-out store, the
dataset and output folders are checked before any run starts (one line, non-zero status); runs
that fail make the tool fail too, after it has written the table of the others.
"""
import shutil

import pytest

from .conftest import assert_clear_error, forbid


@pytest.fixture
def bench(run_tool, true_store, tmp_path, monkeypatch, load_tool):
    """A function (*argv, cutouts=a whole store) -> (status, out, err); no run may start."""
    shutil.copytree(true_store.folder, tmp_path / "store")
    (tmp_path / "datasets" / "synthetic_rpc").mkdir(parents=True)
    forbid(monkeypatch, load_tool("benchmark_accuracy"), "run_one")
    forbid(monkeypatch, load_tool("benchmark_accuracy"), "source_command")

    def run(*argv, cutouts=None):
        return run_tool("benchmark_accuracy", [
            "--cutouts", cutouts or tmp_path / "store", "--datasets", tmp_path / "datasets",
            "--output", tmp_path / "out", "--variants", "b", *argv])

    return run


@pytest.mark.parametrize("argv,fragment", [
    (["--iters", "0"], "--iters"), (["--iters", "-5"], "--iters"), (["--jobs", "0"], "--jobs"),
    (["--seeds", "-1"], "--seeds"), (["--time-limit", "0"], "--time-limit"),
    (["--variants", "z"], "--variants"), (["--preset", "tpu"], "--preset"),
])
def test_numeric_options_out_of_range(argv, fragment, bench, tmp_path):
    code, _, err = bench(*argv)
    assert_clear_error(code, err, fragment)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("damage,fragments", [
    ("not a store", ["--cutouts", "not a cut-out store"]),
    ("truncated", ["pixels.bin", "items[19]", "the store is truncated"]),
    ("missing", ["--cutouts", "no such folder"]),
])
def test_cutouts_that_are_not_a_whole_store(damage, fragments, bench, tmp_path):
    if damage == "not a store":
        (tmp_path / "empty").mkdir()
        cutouts = tmp_path / "empty"
    elif damage == "missing":
        cutouts = tmp_path / "nope"
    else:
        cutouts = tmp_path / "store"
        data = (cutouts / "pixels.bin").read_bytes()
        (cutouts / "pixels.bin").write_bytes(data[:-10])
    code, _, err = bench(cutouts=cutouts)
    assert_clear_error(code, err, *fragments)
    assert not (tmp_path / "out").exists()


def test_datasets_and_output_folders(bench, tmp_path):
    shutil.rmtree(tmp_path / "datasets" / "synthetic_rpc")
    code, _, err = bench()
    assert_clear_error(code, err, "--datasets", "no synthetic_rpc/")
    (tmp_path / "datasets" / "synthetic_rpc").mkdir()
    (tmp_path / "file").write_text("x")
    code, _, err = bench("--output", tmp_path / "file" / "out")
    assert_clear_error(code, err, "--output", "under a file")


def test_source_iters_needs_a_preset_with_a_source_stage(bench, tmp_path):
    code, _, err = bench("--preset", "gpu", "--source-iters", "100")
    assert_clear_error(code, err, "--source-iters", "no shared source stage")
    assert not (tmp_path / "out").exists()


def test_a_failed_source_stage_stops_before_any_run(bench, tmp_path, monkeypatch, load_tool):
    tool = load_tool("benchmark_accuracy")
    monkeypatch.setattr(tool, "source_command", lambda *a: ["false"])
    code, _, err = bench()
    assert_clear_error(code, err, "shared source stage failed", "benchmark_log.txt")
    assert not (tmp_path / "out" / "accuracy.md").exists()


def test_failed_runs_fail_the_tool_after_the_table(bench, tmp_path, monkeypatch, load_tool):
    tool = load_tool("benchmark_accuracy")
    monkeypatch.setattr(tool, "run_one", lambda *a, **k: None)
    monkeypatch.setattr(tool, "shared_source", lambda *a: "source.pth")
    code, _, err = bench("--seeds", "0", "1")
    assert_clear_error(code, err, "2 of 2 runs failed", "benchmark_log.txt")
    assert (tmp_path / "out" / "accuracy.md").is_file()
