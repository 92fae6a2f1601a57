"""Timing for the benchmark tools (tools/benchmark_*.py): one median wall-time helper."""
import statistics
import time
from typing import Callable, Optional

__all__ = ["median_time"]


def median_time(
    fn: Callable[[], object],
    iters: int = 1,
    *,
    warmup: int = 0,
    sync: Optional[Callable[[], None]] = None,
) -> float:
    """
    Median wall time of ``fn()`` in seconds, over ``iters`` timed calls after ``warmup``
    untimed ones.

    Args:
        fn: the work, called ``warmup + iters`` times; its result is discarded.
        iters: timed calls (at least 1).
        warmup: untimed calls first (caches, lazy initialisation, allocator).
        sync: called before the clock starts and before it stops (e.g.
            ``torch.cuda.synchronize`` so that queued GPU work is counted).
    """
    if iters < 1:
        raise ValueError(f"median_time: iters={iters}, need at least 1 timed call")
    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
