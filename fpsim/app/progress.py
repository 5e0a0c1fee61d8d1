"""A small text progress bar on stderr, with no dependency.

It draws only when its stream is a terminal (so logs, pipes and CI stay clean) and not
before ``delay`` seconds have passed (so quick jobs print nothing). Any long-running
function in fpsim that takes ``progress=`` accepts it as the ``progress(done, total)``
callback:

>>> from fpsim.app.progress import Progress
>>> with Progress("sweep", enabled=False) as bar:      # enabled=False: never draws
...     for i in range(3):
...         bar(i + 1, 3)
>>> bar.done, bar.total
(3, 3)
"""
from __future__ import annotations

import sys
import time

__all__ = ["Progress", "null_progress"]


def null_progress(done: int, total: int) -> None:
    """A progress callback that does nothing."""


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """A progress bar: ``label [#####-----]  52%  0:07 left``, redrawn in place.

    Parameters
    ----------
    label : str
        What is running, printed before the bar.
    enabled : bool, optional
        Force drawing on or off. Default: draw iff ``stream`` is a terminal.
    stream : file, optional
        Where to draw; default ``sys.stderr``.
    width : int
        Characters of the bar itself.
    delay : float
        Seconds before the first draw: jobs shorter than that print nothing.
    interval : float
        Smallest time between two redraws.

    Call it as ``bar(done, total)`` (the callback signature that fpsim's sweeps use) or
    ``bar.advance()``; leave the ``with`` block (or call :meth:`close`) to end the line.
    """

    def __init__(self, label: str = "", *, enabled: bool | None = None, stream=None,
                 width: int = 28, delay: float = 0.5, interval: float = 0.1):
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            try:
                enabled = bool(isatty and isatty())
            except (ValueError, OSError):       # a closed or odd stream
                enabled = False
        self.enabled = enabled
        self.width = width
        self.delay = delay
        self.interval = interval
        self.done = 0
        self.total = 0
        self._start = time.monotonic()
        self._last = -1.0
        self._drawn = False
        self._len = 0

    # ---- callback interface ------------------------------------------------------------
    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = int(done), int(total)
        if not self.enabled:
            return
        now = time.monotonic()
        finished = self.total and self.done >= self.total
        if now - self._start < self.delay and not (finished and self._drawn):
            return
        if now - self._last < self.interval and not finished:
            return
        self._last = now
        self._draw(now)

    def advance(self, step: int = 1) -> None:
        """Count ``step`` more units of work done (of the ``total`` set earlier)."""
        self(self.done + step, self.total)

    def set_total(self, total: int) -> None:
        self.total = int(total)

    def _draw(self, now: float) -> None:
        total = max(self.total, 1)
        frac = min(max(self.done / total, 0.0), 1.0)
        filled = int(round(frac * self.width))
        elapsed = now - self._start
        if 0 < frac < 1:
            tail = f"{_duration(elapsed * (1 - frac) / frac)} left"
        else:
            tail = _duration(elapsed)
        text = f"{self.label} [{'#' * filled}{'-' * (self.width - filled)}] {frac:4.0%}  {tail}"
        pad = " " * max(0, self._len - len(text))
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._len = len(text)
        self._drawn = True

    def close(self) -> None:
        """End the bar's line (only if something was drawn)."""
        if self.enabled and self._drawn:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Stages:
    """One progress scale over several stages of known relative cost (the report's sections).

    ``stage(name)`` returns a ``progress(done, total)`` callback for that stage; the
    ``callback`` given here receives the weighted overall progress in thousandths, and, if
    it is a :class:`Progress`, shows the stage's name.
    """

    def __init__(self, callback, weights: dict, label: str = "report"):
        self.callback = callback
        self.weights = dict(weights)
        self.total_weight = float(sum(self.weights.values())) or 1.0
        self.label = label
        self.finished = 0.0

    def stage(self, name: str):
        weight = self.weights[name]
        base = self.finished
        self.finished += weight

        def callback(done: int, total: int) -> None:
            frac = min(done / total, 1.0) if total else 1.0
            if isinstance(self.callback, Progress):
                self.callback.label = f"{self.label}: {name}"
            self.callback(int(1000 * (base + weight * frac) / self.total_weight), 1000)

        callback(0, 1)
        return callback
