"""imap_tasks: results in job order, in this process or in workers."""
import os

from dpsnet_d2.utils.parallel import imap_tasks


def _square_and_pid(x):
    return x * x, os.getpid()


def test_results_in_order_inline_and_in_workers():
    jobs = list(range(13))
    inline = list(imap_tasks(_square_and_pid, jobs, workers=1))
    assert [r for r, _ in inline] == [x * x for x in jobs]
    assert {pid for _, pid in inline} == {os.getpid()}
    pooled = list(imap_tasks(_square_and_pid, jobs, workers=2, chunksize=2))
    assert [r for r, _ in pooled] == [x * x for x in jobs]
    assert os.getpid() not in {pid for _, pid in pooled}
