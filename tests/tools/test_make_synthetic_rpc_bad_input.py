"""
tools/make_synthetic_rpc.py on bad flags and destinations: one clear line, a non-zero status, no
traceback and nothing generated or written.
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import assert_clear_error, forbid

# flag -> the smallest value it accepts
MINIMUM = {"--num-skus": 1, "--views": 1, "--train-per-view": 1, "--val": 0, "--test": 0,
           "--size": 64, "--seed": 0, "--workers": 1}


@pytest.fixture
def no_generation(load_tool, monkeypatch):
    forbid(monkeypatch, load_tool("make_synthetic_rpc"), "generate_synthetic_rpc", "make_preview")


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flag=st.sampled_from(sorted(MINIMUM)), below=st.integers(1, 10**6))
def test_values_below_the_minimum(run_tool, no_generation, tmp_path, flag, below):
    value = MINIMUM[flag] - below
    code, _, err = run_tool("make_synthetic_rpc",
                            ["--output", tmp_path / "s", flag, value], "cli")
    assert_clear_error(code, err, flag, str(value))
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("argv,fragments", [
    (["--views", "x"], ["--views", "invalid int value"]),
    (["--output", "{tmp}/f.txt"], ["--output", "f.txt: is a file"]),
    (["--output", "{tmp}/f.txt/s"], ["--output", "is under a file"]),
    (["--output", "/proc/self/s"], ["--output", "cannot write in /proc/self"]),
    (["--output", "{tmp}/existing"], ["already exists; pass --overwrite"]),
    (["--preview", "{tmp}/x.txt"], ["--preview", "x.txt: must end with one of .jpg"]),
    (["--preview", "{tmp}"], ["--preview", "must end with"]),
    (["--preview", "{tmp}/f.txt/p.jpg"], ["--preview", "is under a file"]),
])
def test_bad_destinations(run_tool, no_generation, tmp_path, argv, fragments):
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / "existing").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "--output" not in argv:
        argv += ["--output", str(tmp_path / "s")]
    code, _, err = run_tool("make_synthetic_rpc", argv, "cli")
    assert_clear_error(code, err, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
