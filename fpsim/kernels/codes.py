"""The integer codes the kernels take, defined once and imported by the API
(``fpsim.rounding``, ``fpsim.formats``, ``fpsim.accumulate``) and the kernels alike."""

#: Rounding modes.
RNE, RNA, RTZ, RU, RD, RTO, SR = 0, 1, 2, 3, 4, 5, 6
#: Not a user mode: what ru/rd become once the sign is known ("away from zero").
RAZ = 7
MODE_NAMES = ("rne", "rna", "rtz", "ru", "rd", "rto", "sr")

#: Format flavours (where inf and NaN live).
IEEE, FN, FNUZ, FINITE = 0, 1, 2, 3
FLAVOUR_NAMES = ("ieee", "fn", "fnuz", "finite")

#: Execution tiers of the MAC kernels, chosen once per call by the API (``fpsim.accumulate``):
#: GENERAL, the exact scalar path for every step; FAST, TwoSum + round-to-odd + the bit
#: trick with flagged lanes redone by the general path (any mode, swamping counts);
#: LEAN, FAST with the modes as compile-time constants in a vectorised loop (RNE/RTZ, no
#: counts); DIRECT, LEAN without TwoSum where double rounding is proven harmless (RNE).
GENERAL, FAST, LEAN, DIRECT = 0, 1, 2, 3
TIER_NAMES = ("general", "fast", "lean", "direct")
