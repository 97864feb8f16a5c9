"""Work side by side in threads: numpy's takes, arithmetic and FFTs, sorting, np.interp, zlib and ISA-L
let other threads run while they work, so the synthesis steps split their rows into bands.

    in_bands(count, step, work)      # work(start, stop) over bands of range(count), THREADS at a time
    with one_worker() as worker:     # one thread beside the caller's single-threaded Python steps
        job = worker.submit(...)
    result = alongside(own, count, step, work)   # own() here, the bands in a worker; then both take bands

Pure standard library: never imports bpy or torch.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

THREADS = max(1, min(4, os.cpu_count() or 1))


def in_bands(count: int, step: int, work) -> None:
    """work(start, stop) for bands of `step` of range(count), side by side in THREADS threads
    (each band writes its own rows: no locks)."""
    starts = range(0, count, step)
    with ThreadPoolExecutor(max_workers=min(THREADS, len(starts))) as pool:
        for done in [pool.submit(work, s, min(count, s + step)) for s in starts]:
            done.result()


@contextmanager
def one_worker():
    """A one-thread executor for work beside the caller's; when the caller's own work raises (a Cancel
    from progress, an error), the jobs not yet begun are dropped instead of waited for."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def alongside(own, count: int, step: int, work):
    """own() in this thread while one worker runs work(start, stop) over bands of `step` of range(count), in
    order; once own() has returned this thread takes bands too, so neither waits on the other's share.
    Returns own()'s result. When own() raises, the bands not yet begun are dropped."""
    starts, lock, stopped = iter(range(0, count, step)), threading.Lock(), []

    def drain() -> None:
        while True:
            with lock:
                start = None if stopped else next(starts, None)
            if start is None:
                return
            try:
                work(start, min(count, start + step))
            except BaseException:
                stopped.append(True)   # the other thread stops too
                raise

    with ThreadPoolExecutor(max_workers=1) as pool:
        helper = pool.submit(drain)
        try:
            result = own()
            drain()
        except BaseException:
            stopped.append(True)
            raise
        helper.result()   # a band's error in the worker
    return result
