"""Run independent tasks in this process, on a pool, or on a Dask cluster, in task order.

A Monte Carlo sweep is a list of independent tasks (grid point x trial block) whose
results are concatenated in task order, so the numbers are the same whatever runs them.
:func:`run_tasks` runs such a list: in this process (the default; fpsim's kernels are
already multithreaded), or on any ``concurrent.futures.Executor`` (a thread or process
pool, ``dask.distributed.Client.get_executor()``) or a ``dask.distributed.Client``.
:func:`open_executor` opens a Dask client for the ``fpsim`` command's ``--scheduler`` and
``--workers``. Dask is imported only when a cluster is asked for.

>>> from fpsim.analysis.tasks import run_tasks
>>> seen = []
>>> run_tasks(abs, [-3, 1, -2], weights=[30, 10, 20], progress=lambda d, t: seen.append((d, t)))
[3, 1, 2]
>>> seen
[(30, 60), (40, 60), (60, 60)]
>>> from concurrent.futures import ThreadPoolExecutor
>>> with ThreadPoolExecutor(2) as pool:
...     run_tasks(str, range(5), executor=pool)
['0', '1', '2', '3', '4']
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import numbers
import os

from .._args import check_int

__all__ = ["run_tasks", "open_executor"]

_INSTALL = "pip install 'fpsim-vrr[dask]' (in a checkout: pip install -e '.[dask]')"


def _pool(executor):
    """The ``concurrent.futures.Executor`` to submit to, or None (run here)."""
    if executor is None or isinstance(executor, cf.Executor):
        return executor
    # a dask.distributed.Client, recognised without importing dask
    get = getattr(executor, "get_executor", None)
    if callable(get) and type(executor).__module__.split(".")[0] == "distributed":
        # pure=False: every submission is its own task (no key shared with an earlier,
        # possibly cancelled, call)
        return get(pure=False)
    raise TypeError("executor must be None, a concurrent.futures.Executor or a "
                    f"dask.distributed.Client, got {type(executor).__name__} {executor!r:.60}")


def _weights(weights, count: int) -> list:
    if weights is None:
        return [1] * count
    try:
        weights = list(weights)
    except TypeError:
        raise TypeError("weights must be a sequence of non-negative numbers (one per task), "
                        f"got {type(weights).__name__} {weights!r:.60}") from None
    if len(weights) != count:
        raise ValueError(f"weights must have one number per task ({count}), got {len(weights)}")
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, numbers.Real):
            raise TypeError(f"weights must be non-negative numbers, got {type(w).__name__} "
                            f"{w!r:.60}")
        if not w >= 0 or w == float("inf"):
            raise ValueError(f"weights must satisfy 0 <= weight < inf, got {w!r}")
    return weights


def run_tasks(fn, tasks, *, executor=None, progress=None, weights=None) -> list:
    """``[fn(t) for t in tasks]``, in task order, run by ``executor``.

    Parameters
    ----------
    fn : callable
        Called once per task as ``fn(task)``; on another process it and the tasks must
        pickle (a module-level function).
    tasks : iterable
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        None: run in this process, one after the other. An executor (a thread or process
        pool, ``client.get_executor()``) or a Dask client: submit every task, collect
        them as they finish.
    progress : callable, optional
        ``progress(done, total)``, called as each task finishes, in units of ``weights``.
    weights : sequence of numbers >= 0, optional
        The work of each task (e.g. its trials), so that ``progress`` counts work done
        rather than tasks; default 1 each.

    A task's exception is raised here (the first one to arrive); on it, on
    KeyboardInterrupt and on any error of ``progress``, every task not yet finished is
    cancelled before the exception propagates.

    >>> run_tasks(len, ["a", "bcd", ""])
    [1, 3, 0]
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__} {fn!r:.60}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {type(progress).__name__} "
                        f"{progress!r:.60}")
    pool = _pool(executor)
    tasks = list(tasks)
    weights = _weights(weights, len(tasks))
    total, done = sum(weights), 0
    if pool is None:
        results = []
        for task, w in zip(tasks, weights):
            results.append(fn(task))
            done += w
            if progress is not None:
                progress(done, total)
        return results
    futures = {}
    try:
        for i, task in enumerate(tasks):
            futures[pool.submit(fn, task)] = i
        results = [None] * len(tasks)
        for future in cf.as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            done += weights[i]
            if progress is not None:
                progress(done, total)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"a Dask cluster needs dask.distributed ({exc}): {_INSTALL}") from None
    return distributed


@contextlib.contextmanager
def open_executor(scheduler=None, workers=None):
    """A context manager: the executor for :func:`run_tasks` that the ``fpsim`` command's
    ``--scheduler``/``--workers`` ask for, closed on exit (also on KeyboardInterrupt).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running Dask scheduler (``dask scheduler``), e.g.
        ``"tcp://127.0.0.1:8786"``: yields a ``dask.distributed.Client`` connected to it.
    workers : int >= 1, optional
        Start a local cluster of that many single-threaded worker processes on
        127.0.0.1 and yield a client of it; the workers stop on exit.

    Neither: yields None (run in this process). Both: ValueError.

    >>> with open_executor() as ex:
    ...     print(ex)
    None
    """
    if scheduler is not None and workers is not None:
        raise ValueError(f"give scheduler or workers, not both (got scheduler={scheduler!r}, "
                         f"workers={workers!r})")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise TypeError("scheduler must be the address of a dask scheduler, e.g. "
                        f"'tcp://127.0.0.1:8786', got {type(scheduler).__name__} "
                        f"{scheduler!r:.60}")
    if workers is not None:
        workers = check_int(workers, "workers", 1, note=" (worker processes)")
    if scheduler is None and workers is None:
        yield None
        return
    distributed = _distributed()
    cluster = client = None
    try:
        if scheduler is not None:
            client = distributed.Client(scheduler.strip())
        else:
            # each worker's kernels get their share of the cores (Numba would take them
            # all in every worker process)
            threads = max(1, (os.cpu_count() or 1) // workers)
            # the scheduler serves HTTP even without a dashboard, by default on port
            # 8787: a free loopback port instead, so that clusters side by side (the test
            # suite's workers) do not collide
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                               processes=True, host="127.0.0.1",
                                               dashboard_address="127.0.0.1:0",
                                               env={"NUMBA_NUM_THREADS": str(threads)})
            client = distributed.Client(cluster)
        yield client
    finally:
        try:
            if client is not None:
                client.close()
        finally:
            if cluster is not None:
                cluster.close()
