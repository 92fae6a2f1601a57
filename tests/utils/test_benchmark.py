"""median_time: warm-up calls are not timed, the median of the timed calls is returned."""
import pytest

from dpsnet_d2.utils import median_time


def test_median_of_the_timed_calls_after_the_warmup(monkeypatch):
    clock = iter([0.0, 1.0, 10.0, 13.0, 20.0, 22.0])  # three timed calls: 1, 3, 2 seconds
    monkeypatch.setattr("dpsnet_d2.utils.benchmark.time.perf_counter", lambda: next(clock))
    calls, syncs = [], []
    seconds = median_time(lambda: calls.append(1), 3, warmup=2, sync=lambda: syncs.append(1))
    assert seconds == 2.0
    assert len(calls) == 5 and len(syncs) == 6


def test_needs_a_timed_call():
    with pytest.raises(ValueError, match="iters=0"):
        median_time(lambda: None, 0)
