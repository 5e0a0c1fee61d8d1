"""fpsim.analysis.tasks: run_tasks on every kind of executor (this process, thread and
process pools, a Dask cluster), its progress, errors and Ctrl-C; open_executor's clusters;
and Numba's on-disk cache shared by worker processes compiling at once."""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from fpsim.analysis.tasks import open_executor, run_tasks


TASKS = list(range(12))
WEIGHTS = [t % 4 for t in TASKS]        # zeros too


def square_after(t):
    """A task whose finishing order differs from its task order (early tasks are slowest)."""
    time.sleep(0.02 * (len(TASKS) - t) / len(TASKS))
    return t * t


def fail_on_three(t):
    if t == 3:
        raise ArithmeticError(f"task {t} failed")
    return t


def slow(t):
    time.sleep(0.5)
    return t


class Recording(cf.Executor):
    """Submits to another executor and keeps the futures it handed out."""

    def __init__(self, inner):
        self.inner, self.futures = inner, []

    def submit(self, fn, *args, **kwargs):
        future = self.inner.submit(fn, *args, **kwargs)
        self.futures.append(future)
        return future


def checked_progress():
    calls = []

    def progress(done, total):
        calls.append((done, total))
    return calls, progress


def assert_progress(calls, weights):
    total = sum(weights)
    assert calls and all(t == total for _, t in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == total
    assert len(calls) == len(weights)


# ---------------------------------------------------------------- this process and pools

def test_in_process_in_order_with_progress():
    calls, progress = checked_progress()
    assert run_tasks(square_after, TASKS, progress=progress, weights=WEIGHTS) == [
        t * t for t in TASKS]
    assert_progress(calls, WEIGHTS)
    assert [d for d, _ in calls] == [sum(WEIGHTS[:k + 1]) for k in range(len(TASKS))]


def test_in_process_imports_no_dask():
    code = ("import sys; from fpsim.analysis.tasks import run_tasks, open_executor\n"
            "assert run_tasks(abs, [-1, 2]) == [1, 2]\n"
            "with open_executor() as ex: assert ex is None\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("pool", [cf.ThreadPoolExecutor, cf.ProcessPoolExecutor])
def test_pools_keep_task_order(pool):
    calls, progress = checked_progress()
    with pool(max_workers=2) as ex:
        assert run_tasks(square_after, TASKS, executor=ex, progress=progress,
                         weights=WEIGHTS) == [t * t for t in TASKS]
    assert_progress(calls, WEIGHTS)


def fail_on_three_else_slow(t):
    return fail_on_three(t) if t == 3 else slow(t)


def test_a_task_error_propagates_and_cancels_the_rest():
    with cf.ThreadPoolExecutor(max_workers=1) as pool:
        ex = Recording(pool)
        with pytest.raises(ArithmeticError, match="task 3 failed"):
            run_tasks(fail_on_three_else_slow, [3, 0, 1, 2, 4], executor=ex)
    assert sum(f.cancelled() for f in ex.futures) >= 3
    with pytest.raises(ArithmeticError, match="task 3 failed"):
        run_tasks(fail_on_three, [1, 3, 5])


def test_keyboard_interrupt_cancels_pending_futures_and_reraises():
    def interrupt(done, total):
        raise KeyboardInterrupt

    with cf.ThreadPoolExecutor(max_workers=1) as pool:
        ex = Recording(pool)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run_tasks(slow, range(6), executor=ex, progress=interrupt)
        assert time.monotonic() - start < 1.5      # it did not wait for the other tasks
    assert len(ex.futures) == 6 and ex.futures[0].result() == 0
    # the one running when the interrupt came finishes; every other one was cancelled
    assert sum(f.cancelled() for f in ex.futures) >= 4


# ---------------------------------------------------------------- argument errors

@pytest.mark.parametrize("kwargs, error, words", [
    (dict(executor="tcp://127.0.0.1:8786"), TypeError, ["executor", "str"]),
    (dict(executor=4), TypeError, ["executor", "int 4"]),
    (dict(progress=3), TypeError, ["progress", "callable"]),
    (dict(weights=[1, 2]), ValueError, ["weights", "one number per task (3)", "2"]),
    (dict(weights=[1, -1, 2]), ValueError, ["weights", "0 <= weight", "-1"]),
    (dict(weights=[1, float("nan"), 2]), ValueError, ["weights", "nan"]),
    (dict(weights=[1, "2", 2]), TypeError, ["weights", "str '2'"]),
    (dict(weights=[1, True, 2]), TypeError, ["weights", "bool"]),
    (dict(weights=5), TypeError, ["weights", "int 5"]),
])
def test_run_tasks_argument_errors(kwargs, error, words):
    with pytest.raises(error) as info:
        run_tasks(abs, [1, 2, 3], **kwargs)
    for w in words:
        assert w in str(info.value)


def test_run_tasks_fn_must_be_callable():
    with pytest.raises(TypeError, match="fn must be callable, got int 3"):
        run_tasks(3, [1])


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(scheduler="tcp://127.0.0.1:8786", workers=2), ValueError, ["scheduler or workers"]),
    (dict(workers=0), ValueError, ["workers must satisfy workers >= 1", "got 0"]),
    (dict(workers=1.5), TypeError, ["workers must be an integer", "float 1.5"]),
    (dict(scheduler=8786), TypeError, ["scheduler", "int 8786"]),
    (dict(scheduler=" "), TypeError, ["scheduler", "tcp://"]),
])
def test_open_executor_argument_errors(kwargs, error, words):
    with pytest.raises(error) as info:
        with open_executor(**kwargs):
            pass
    for w in words:
        assert w in str(info.value)


def test_open_executor_without_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)      # import distributed fails
    with pytest.raises(ImportError, match=r"pip install 'fpsim-vrr\[dask\]'"):
        with open_executor(workers=1):
            pass


# ---------------------------------------------------------------- a Dask cluster

@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed")
    with open_executor(workers=2) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def test_open_executor_starts_a_local_cluster(client):
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert all(w["host"] == "127.0.0.1" and w["nthreads"] == 1 for w in workers.values())
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()


@pytest.mark.parametrize("kind", ["client", "get_executor"])
def test_dask_keeps_task_order(client, kind):
    calls, progress = checked_progress()
    ex = client if kind == "client" else client.get_executor()
    assert run_tasks(square_after, TASKS, executor=ex, progress=progress,
                     weights=WEIGHTS) == [t * t for t in TASKS]
    assert_progress(calls, WEIGHTS)
    # both workers took part
    assert len(set(run_tasks(_pid_after, [0.2, 0.21, 0.22, 0.23], executor=ex))) == 2


def _pid_after(seconds):
    time.sleep(seconds)
    return os.getpid()


def test_dask_task_error_propagates(client):
    with pytest.raises(ArithmeticError, match="task 3 failed"):
        run_tasks(fail_on_three, range(6), executor=client)


def test_dask_keyboard_interrupt_cancels_pending_tasks(client):
    def interrupt(done, total):
        raise KeyboardInterrupt

    ex = Recording(client.get_executor(pure=False))
    with pytest.raises(KeyboardInterrupt):
        run_tasks(slow, range(8), executor=ex, progress=interrupt)
    assert len(ex.futures) == 8
    assert sum(f.cancelled() for f in ex.futures) >= 6
    deadline = time.monotonic() + 10
    while client.processing() and any(client.processing().values()):
        assert time.monotonic() < deadline, f"tasks left on the cluster: {client.processing()}"
        time.sleep(0.1)


def test_open_executor_stops_its_workers():
    distributed = pytest.importorskip("distributed")
    psutil = pytest.importorskip("psutil")
    with open_executor(workers=2) as c:
        assert isinstance(c, distributed.Client)
        c.wait_for_workers(2, timeout=60)
        pids = list(c.run(os.getpid).values())
        procs = [psutil.Process(p) for p in pids]
        assert len(procs) == 2 and all(p.is_running() for p in procs)
    gone, alive = psutil.wait_procs(procs, timeout=20)
    assert not alive, f"worker processes left running: {alive}"
    assert c.status == "closed"


def test_open_executor_stops_its_workers_on_keyboard_interrupt():
    pytest.importorskip("distributed")
    psutil = pytest.importorskip("psutil")
    with pytest.raises(KeyboardInterrupt):
        with open_executor(workers=1) as c:
            c.wait_for_workers(1, timeout=60)
            procs = [psutil.Process(p) for p in c.run(os.getpid).values()]
            raise KeyboardInterrupt
    gone, alive = psutil.wait_procs(procs, timeout=20)
    assert not alive


# ---------------------------------------------------------------- Numba's cache, shared

def _sum_in_step(directory):
    """fpsim.sum in binary16, started by each worker at the same moment (a file barrier):
    its bits, this process's NUMBA_CACHE_DIR and pid."""
    import numba
    import numpy as np
    import fpsim
    open(os.path.join(directory, f"ready-{os.getpid()}"), "w").close()
    deadline = time.monotonic() + 60
    while len([f for f in os.listdir(directory) if f.startswith("ready-")]) < 2:
        if time.monotonic() > deadline:
            raise TimeoutError("the other worker never started")
        time.sleep(0.01)
    x = np.random.default_rng(7).standard_normal((3, 100))
    out = fpsim.sum(x, fpsim.AccumSpec("binary16"))
    return [v.hex() for v in np.asarray(out, dtype=np.float64).ravel()], \
        numba.config.CACHE_DIR, os.getpid()


def _cache_files(cache):
    return {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns
            for d, _, files in os.walk(cache) for f in files
            if not f.endswith((".lock", ".compiling"))}


@pytest.mark.slow              # two processes compile a kernel (about a minute when busy)
def test_numba_cache_is_safe_for_workers_compiling_at_once(tmp_path):
    distributed = pytest.importorskip("distributed")
    cache, barrier = tmp_path / "numba-cache", tmp_path / "barrier"
    cache.mkdir()
    barrier.mkdir()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  env={"NUMBA_CACHE_DIR": str(cache)}) as cluster, \
            distributed.Client(cluster) as c:
        c.wait_for_workers(2, timeout=60)
        futures = [c.submit(_sum_in_step, str(barrier), workers=[w], pure=False)
                   for w in c.scheduler_info()["workers"]]
        (bits_a, dir_a, pid_a), (bits_b, dir_b, pid_b) = c.gather(futures)
    assert pid_a != pid_b and dir_a == dir_b == str(cache)
    assert bits_a == bits_b
    written = _cache_files(cache)
    assert any(f.endswith(".nbi") for f in written) and any(f.endswith(".nbc") for f in written)

    # a third, fresh process loads every kernel from that cache: same bits, nothing written
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_tasks import _sum_in_step
        print(json.dumps(_sum_in_step({str(barrier)!r})))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "NUMBA_CACHE_DIR": str(cache)}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    bits_c, dir_c, _ = json.loads(proc.stdout)
    assert dir_c == str(cache) and bits_c == bits_a
    assert _cache_files(cache) == written, "the fresh process compiled instead of loading"
