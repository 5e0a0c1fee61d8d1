"""Running a list of independent tasks here or on an executor (interim: in-process only;
the executor layer lands with branch i-dask)."""
from __future__ import annotations

__all__ = ["run_tasks"]


def run_tasks(fn, tasks, *, executor=None, progress=None, weights=None) -> list:
    """[fn(t) for t in tasks], progress(done, total) in units of weights after each."""
    weights = [1] * len(tasks) if weights is None else list(weights)
    total = sum(weights)
    if executor is not None:
        futures = [executor.submit(fn, t) for t in tasks]
        out = []
        done = 0
        for f, w in zip(futures, weights):
            out.append(f.result())
            done += w
            if progress is not None:
                progress(done, total)
        return out
    out = []
    done = 0
    for t, w in zip(tasks, weights):
        out.append(fn(t))
        done += w
        if progress is not None:
            progress(done, total)
    return out
