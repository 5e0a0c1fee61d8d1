"""The analysis layer: the analytical VRR (``vrr``), per-network prediction (``predict``)
and the Monte Carlo measurement, one module per concern: the random products (``draws``),
the paired estimator (``estimator``), ``measure_vrr`` (``measure``), grids of measurements
(``sweep``), the paper's Figure 2 (``figure``), the docs' comparison and the model's
calibration (``compare``); where a sweep's tasks run, here or on a Dask cluster
(``tasks``). Built on the arithmetic API of ``fpsim``, never on the kernels
directly; the application layer (``fpsim.app``) builds on this."""
