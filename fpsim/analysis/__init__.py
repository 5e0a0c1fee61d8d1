"""The analysis layer: the analytical VRR (``vrr``), per-network prediction (``predict``)
and the Monte Carlo measurement (``measure``). Built on the arithmetic API of ``fpsim``,
never on the kernels directly; the application layer (``fpsim.app``) builds on this."""
