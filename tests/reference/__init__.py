"""Independent slow reference for fpsim's tests.

Exact rational arithmetic only (``fractions.Fraction`` / Python integers); shares no code with
``kernels/`` or with ``fpsim.rounding``.  A format is read only through its plain fields
``exp_bits, man_bits, bias, flavour, subnormals`` (or given as those five numbers).

- :mod:`.rounding`   -- ``round_to_format`` / ``round_real`` (the one rounding choke point)
- :mod:`.codes`      -- ``encode_one`` / ``decode_one`` / ``all_values`` / ``representable_values``
- :mod:`.stream`     -- the SplitMix64 stream of stochastic rounding
- :mod:`.arith`      -- exact add/sub/mul/div/fma/sqrt, ``ref_op``
- :mod:`.accumulate` -- ``ref_dot`` / ``ref_matmul`` for every accumulation order
"""
from .rounding import (FLAVOURS, MODES, Real, format_params, emin, emax, max_value,
                       max_significand, round_to_format, round_real)
from .codes import (code_dtype, decode_one, encode_one, all_values, representable_values,
                    canonical_nan_code)
from .stream import splitmix64, sr_random, sr_stream, mac_stream, batch_seed
from .arith import (exact_add, exact_sub, exact_mul, exact_div, exact_fma, exact_sqrt, ref_op,
                    OPS)
from .accumulate import ref_dot, ref_matmul, ORDERS
