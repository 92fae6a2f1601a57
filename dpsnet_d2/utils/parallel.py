"""Running independent per-item tasks in worker processes, in order, with one thread each."""
import multiprocessing as mp
from typing import Callable, Iterator, Sequence

import cv2

__all__ = ["imap_tasks"]


def _init_worker():
    # OpenCV only: a forked child must not call into torch's OpenMP runtime once the parent has
    # used it (libgomp is not fork-safe; such a child can hang), so jobs run no torch code
    cv2.setNumThreads(1)


def imap_tasks(fn: Callable, jobs: Sequence, workers: int, chunksize: int = 4) -> Iterator:
    """
    ``fn(job)`` for every job, results in job order. ``workers`` <= 1 runs them in this process;
    otherwise a pool of that many forked processes (``fn`` and the jobs must be picklable; jobs
    should do image work - OpenCV, NumPy - not torch). The pool is closed when the iterator is
    exhausted or dropped.
    """
    if workers <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    with mp.get_context("fork").Pool(min(workers, len(jobs)), initializer=_init_worker) as pool:
        yield from pool.imap(fn, jobs, chunksize=chunksize)
