"""The Numba policy of every kernel, in one place: the decorators and the on-disk cache.

Decorators: ``jit`` (a compiled function), ``inline`` (inlined into its callers at the
Numba IR level), ``parallel`` (a ``prange`` kernel) and ``scalar_entry(*types)`` (one fixed
signature, compiled on first use). All are ``nogil`` and cached on disk; none uses
``fastmath``, which would reorder or fuse the very roundings being simulated.
``by_literal`` makes a function whose body the caller's literal argument chooses at
compile time, so that a kernel variant compiles only its own loops (docs/architecture.md,
"Compiling only what a call runs").

The cache, made correct and safe for several processes:

- **Keyed on the whole kernels package.** Numba stamps a cached kernel with a hash of the
  file that defines it, but a kernel inlines helpers from other files (``core.py``,
  ``bittrick.py``, ...): editing one of those would leave stale machine code in the cache.
  Every function of this package is therefore stamped with a digest of *all* of its source
  files, so any change recompiles everything that could depend on it.
- **Compiled once across processes.** Processes that start cold together (pytest-xdist
  workers, Dask workers, a report's subprocesses) would each compile the same kernel.
  A compile takes a lock per function and signature, next to the function's cache index,
  shared by every process using that cache: a process that finds another compiling the
  same version waits, then loads the other's machine code from the cache
  (``_compile_once``).
- **Each inlined helper translated once.** Numba inlines an ``inline`` helper by running
  the compiler's front end (bytecode to IR, and the helper's own inlining) on it again at
  every call site, in every caller; for a second quantize variant that was a quarter of
  its compile time. The IR is kept per function object and flags (``_memoize_inlined_ir``): Numba
  copies it before it edits it, so each call site still gets its own copy, and the machine
  code is the same (tests/test_kernel_policy.py compares it). ``FPSIM_INLINE_MEMO=0``
  turns it off.
- **Safe across processes.** Numba saves a cache entry as read-modify-write of an index
  (key -> data file) and then the data file. Two processes saving different keys of one
  function at once could allocate the same data file and leave an index entry pointing at
  the other's machine code. Saves are serialised here by an exclusive lock on a file next
  to the index, and the data file is written before the index names it, so a reader sees
  either no entry or a complete one. (Each file write is already atomic in Numba: a
  temporary file, then ``os.replace``.)
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import itertools
import os
import time
from functools import lru_cache

import numpy as np
from numba import njit, types
from numba.core import caching, sigutils, typeinfer
from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher
from numba.core.registry import CPUDispatcher
from numba.extending import overload

try:
    import fcntl
except ImportError:              # not POSIX: Numba's own (unlocked) saves
    fcntl = None

__all__ = ["jit", "inline", "parallel", "scalar_entry", "by_literal", "variant_factory",
           "built_variants", "package_digest", "FIRST"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


@lru_cache(maxsize=None)
def package_digest() -> str:
    """SHA-256 of every ``.py`` file of the kernels package (names and contents)."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(_PACKAGE_DIR)):
        if name.endswith(".py"):
            h.update(name.encode())
            with open(os.path.join(_PACKAGE_DIR, name), "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def _in_package(py_file) -> bool:
    return os.path.dirname(os.path.abspath(py_file)) == _PACKAGE_DIR


class _PackageStamp:
    """Locator mixin: the source stamp is the package digest, and only this package's
    functions use it (others keep Numba's locators)."""

    def get_source_stamp(self):
        return ("fpsim.kernels", package_digest())

    @classmethod
    def from_function(cls, py_func, py_file):
        if not _in_package(py_file):
            return None
        return super().from_function(py_func, py_file)


class _ProvidedDirLocator(_PackageStamp, caching.UserProvidedCacheLocator):
    """NUMBA_CACHE_DIR, when set."""


class _InTreeLocator(_PackageStamp, caching.InTreeCacheLocator):
    """__pycache__ beside the sources, when writable."""


class _UserWideLocator(_PackageStamp, caching.UserWideCacheLocator):
    """The user's cache directory otherwise (e.g. a read-only install)."""


@contextlib.contextmanager
def _locked(path: str):
    if fcntl is None:
        yield
        return
    with open(path + ".lock", "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _locked_save(self, key, data):
    """IndexDataCacheFile.save under an exclusive lock, data file before index entry."""
    with _locked(self._index_path):
        overloads = self._load_index()
        data_name = overloads.get(key)
        if data_name is None:
            taken = set(overloads.values())
            data_name = next(n for n in (self._data_name(i) for i in itertools.count(1))
                             if n not in taken)
        self._save_data(data_name, data)
        overloads[key] = data_name
        self._save_index(overloads)


#: The longest a compile waits for another process compiling the same function, in seconds;
#: past it, it compiles anyway (a stuck process must not stall the others).
_COMPILE_WAIT = 600.0
_HELD: set = set()        # the compile locks (index paths) this process holds


@contextlib.contextmanager
def _waiting_lock(path: str, timeout: float):
    with open(path, "a") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield
                    return
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _compile_once(compile):
    """Dispatcher.compile, for this package's cached functions, under a lock per function
    and signature that every process using the cache shares: after waiting, Numba's compile finds the
    other process's entry in the cache and loads it. Taken inside Numba's compiler lock,
    so one thread of a process holds these at a time, and they nest in call order (a
    callee's inside its caller's), which has no cycle: no two processes can wait on each
    other. A function already compiled for ``sig`` takes no lock."""
    @functools.wraps(compile)
    def locked(self, sig):
        cache_file = getattr(getattr(self, "_cache", None), "_cache_file", None)
        index = getattr(cache_file, "_index_path", None)
        args = tuple(sigutils.normalize_signature(sig)[0])
        if (fcntl is None or index is None or args in self.overloads
                or not _in_package(self.py_func.__code__.co_filename)):
            return compile(self, sig)
        # one lock per signature: other variants of the function compile meanwhile
        path = f"{index}.{hashlib.sha256(str(args).encode()).hexdigest()[:16]}.compiling"
        if path in _HELD:
            return compile(self, sig)
        with global_compiler_lock, _waiting_lock(path, _COMPILE_WAIT):
            _HELD.add(path)
            try:
                return compile(self, sig)
            finally:
                _HELD.discard(path)
    locked.compile_once = True
    return locked


_INLINED_IR: dict = {}      # (function, flags, ...) -> its IR after the untyped passes


def _memoize_inlined_ir(run_untyped_passes):
    """InlineWorker.run_untyped_passes, remembered. The IR depends on the function object
    (a closure's captured constants are in it) and on the caller's flags, locals, pipeline
    and target, which are the key; Numba's inliner deep-copies it before it renames,
    relabels or types anything, so the kept IR is never changed. The call sets ``enable_ssa`` on the caller's
    flags as Numba's does, so the caller compiles as it would have."""
    @functools.wraps(run_untyped_passes)
    def remembered(self, func, enable_ssa=False):
        self.flags.enable_ssa = enable_ssa
        try:
            key = (func, repr(self.flags), type(self.pipeline), type(self.targetctx),
                   tuple(sorted(self.locals.items())) if self.locals else ())
            found = _INLINED_IR.get(key)
        except TypeError:                       # an unhashable local: no memo
            return run_untyped_passes(self, func, enable_ssa)
        if found is None:
            found = _INLINED_IR[key] = run_untyped_passes(self, func, enable_ssa)
        return found
    remembered.memoized = True
    return remembered


def _install_inline_memo() -> bool:
    """The inlined-IR memo in place (once), unless FPSIM_INLINE_MEMO=0 or this Numba's
    inliner is not the one it was written for (then Numba's own, slower, stays)."""
    if os.environ.get("FPSIM_INLINE_MEMO", "1") == "0":
        return False
    try:
        from numba.core.inline_closurecall import InlineWorker
    except ImportError:
        return False
    run = getattr(InlineWorker, "run_untyped_passes", None)
    if run is None or list(inspect.signature(run).parameters) != ["self", "func", "enable_ssa"]:
        return False
    if not getattr(run, "memoized", False):
        InlineWorker.run_untyped_passes = _memoize_inlined_ir(run)
    return True


def _install_cache_policy() -> bool:
    """Put the package locators first and the locked save in place (once); False if this
    Numba's cache internals are not the ones this was written for (then Numba's defaults
    stay, and tests/test_kernel_policy.py says so)."""
    impl = getattr(caching, "CacheImpl", None)
    index = getattr(caching, "IndexDataCacheFile", None)
    needed = ("_load_index", "_save_index", "_save_data", "_data_name")
    if impl is None or index is None or not all(hasattr(index, n) for n in needed):
        return False
    mine = [_ProvidedDirLocator, _InTreeLocator, _UserWideLocator]
    if impl._locator_classes[:3] != mine:
        impl._locator_classes[:0] = mine
    if index.save is not _locked_save:
        index.save = _locked_save
    if not getattr(Dispatcher.compile, "compile_once", False):
        Dispatcher.compile = _compile_once(Dispatcher.compile)
    return True


CACHE_POLICY_INSTALLED = _install_cache_policy()
INLINE_MEMO_INSTALLED = _install_inline_memo()

jit = njit(cache=True, nogil=True)
inline = njit(cache=True, nogil=True, inline="always")
parallel = njit(cache=True, nogil=True, parallel=True)


class _EntryDispatcher(CPUDispatcher):
    """A dispatcher with one fixed signature that compiles it (or loads it from the cache)
    when first called or typed, not at import: a process compiles only the scalar
    functions its kernels reach."""

    entry_signature: tuple = ()

    def _compile_entry(self):
        if self._can_compile:
            with typeinfer.register_dispatcher(self):
                self.compile(self.entry_signature)
            self.disable_compile()

    def get_call_template(self, args, kws):        # a compiled caller being typed
        self._compile_entry()
        return super().get_call_template(args, kws)

    def _compile_for_args(self, *args, **kws):     # a first call from Python
        # Numba calls what this returns with the arguments: the one compiled function,
        # whose wrapper converts them or raises TypeError
        self._compile_entry()
        (entry,) = self.overloads.values()
        return entry.entry_point


#: The Dispatcher internals _EntryDispatcher overrides; without them (another Numba), scalar
#: entries compile at import as Numba's own fixed-signature jit does.
_LAZY_ENTRIES = all(hasattr(CPUDispatcher, name) for name in
                    ("_compile_for_args", "get_call_template", "disable_compile", "_can_compile"))


def scalar_entry(*arg_types):
    """jit with one fixed signature, for the scalar general-path functions that every
    kernel calls. Numba compiles a callee anew for each combination of literal constants
    at its call sites (mode=0, sat=False, shift=1, ...); with the signature given, every
    caller shares one compiled version. The general path is the rare one, so
    constant-specialising it buys nothing. Compiled on first use (``_EntryDispatcher``)."""
    if not _LAZY_ENTRIES:
        return njit(arg_types, cache=True, nogil=True)

    def entry(py_func):
        disp = _EntryDispatcher(py_func, targetoptions={"nopython": True, "nogil": True})
        disp.enable_caching()
        disp.entry_signature = tuple(arg_types)
        return disp
    return entry


def by_literal(name: str, position: int, implementations: dict):
    """A kernel-only function whose body is chosen when its caller is compiled: the
    literal value of argument ``position`` at the call site selects one of
    ``implementations`` (value -> plain Python function, all of one signature), and only
    that one is typed and compiled into the caller.

    This is how a variant's constants reach past the first call level. Numba prunes a
    branch on a closure's captured constant before typing, but a branch on a literal
    *argument* is typed in full (only LLVM drops it afterwards), and typing the unused
    loops is most of a kernel's compile time. The choice is made by an ``overload``, so
    the caller's machine code, and with it the on-disk cache, holds the chosen body only.

    >>> from numba import njit
    >>> twice = by_literal("twice", 1, {0: lambda x, how: x + x, 1: lambda x, how: 2 * x})
    >>> njit(lambda x: twice(x, 1))(3.0)
    6.0
    """
    def stub(*args):
        raise TypeError(f"{name} runs in compiled code only")

    stub.__name__ = stub.__qualname__ = name

    def choose(*args):
        arg = args[position]
        if not isinstance(arg, types.Literal):
            return None                          # Numba retries with the literal types
        return implementations[arg.literal_value]

    overload(stub, prefer_literal=True, strict=False, jit_options={"nogil": True})(choose)
    return stub


_BUILT: dict = {}          # factory name -> the dict of its built variants (key -> kernels)


#: Row and column 0 of a family's one-tile entry (``one_tile``), as an int64: a literal 0
#: would compile the whole tile function a second time per variant, where ``all_tiles``
#: (int64 indices) and ``one_tile`` can share one.
FIRST = np.int64(0)


def variant_factory(factory):
    """A kernel family's factory (key -> compiled kernels), cached per key like
    ``functools.lru_cache``, and recording what it built: ``built_variants()`` lists every
    variant a process has made and the signatures compiled for it, which is how the test
    suite checks that its default run builds every variant path (tests/conftest.py)."""
    name = f"{factory.__module__}.{factory.__qualname__}"
    made = _BUILT.setdefault(name, {})

    @functools.wraps(factory)
    def build(*key):
        try:
            return made[key]
        except KeyError:
            made[key] = kernels = factory(*key)
            return kernels
    return build


def _signatures(kernels) -> list:
    found = kernels if isinstance(kernels, tuple) else (kernels,)
    sigs = {tuple(str(t) for t in sig) for k in found for sig in getattr(k, "signatures", ())}
    return sorted(sigs)


def built_variants() -> dict:
    """{name: [(key, [signature, ...]), ...]}: every variant that each variant factory of
    this process has built, and, under the key ``()``, every other function of the package
    compiled (or loaded from the cache) so far; a signature is one compiled version's
    argument types, as strings (``Literal[int](3)`` for a literal constant). Names are
    ``module.function``.

    >>> import numpy as np, fpsim
    >>> _ = fpsim.quantize(np.ones(3), "fp16")
    >>> any(key == (0, True) for key, _ in built_variants()["fpsim.kernels.quantize.quantize_kernels"])
    True
    """
    import sys
    from numba.core.dispatcher import Dispatcher
    out = {name: [(key, _signatures(k)) for key, k in made.items()]
           for name, made in _BUILT.items()}
    for modname, module in list(sys.modules.items()):
        if module is None or not modname.startswith(__package__ + "."):
            continue
        for attr, value in vars(module).items():
            if isinstance(value, Dispatcher) and value.__module__ == modname and value.signatures:
                out[f"{modname}.{attr}"] = [((), _signatures(value))]
    return out
