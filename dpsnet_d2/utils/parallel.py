"""Running independent per-item tasks (numpy / OpenCV work) in worker processes, in order, with one
OpenCV thread each."""
import multiprocessing as mp
from typing import Callable, Iterator, Sequence

import cv2

__all__ = ["imap_tasks"]


def _init_worker():
    cv2.setNumThreads(1)


def imap_tasks(fn: Callable, jobs: Sequence, workers: int, chunksize: int = 4) -> Iterator:
    """
    ``fn(job)`` for every job, results in job order. ``workers`` <= 1 runs them in this process;
    otherwise a pool of that many processes (``fn`` and the jobs must be picklable). Workers come
    from a fork server, not from forking this process: a child forked from a process whose
    OpenCV or OpenMP thread pools have run can hang on a lock held at the fork. The pool is
    closed when the iterator is exhausted or dropped.
    """
    if workers <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    with mp.get_context("forkserver").Pool(min(workers, len(jobs)), initializer=_init_worker) as pool:
        yield from pool.imap(fn, jobs, chunksize=chunksize)
