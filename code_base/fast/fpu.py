"""Flush-to-zero for the fast kernels: subnormal floats are computed as zero in their threads.

Subnormal (denormal) numbers, below 1.2e-38 in float32, are rare in everyday arithmetic, but
training makes many: with L2 regularisation and Adam, the weights of a hidden feature that is
never active get only the gradient reg * w, far below Adam's epsilon, so every step scales them
by about 1 - lr * reg / epsilon and they decay geometrically into that range.  Many CPUs compute
each operation on a subnormal through a slow microcode path, and training slowed down epoch
after epoch (benchmarks/README.md has the measurements).  The CPU's flush-to-zero and
denormals-are-zero modes (FTZ and DAZ on x86-64, FZ on AArch64) compute them as zero instead;
no value that small can change a float32 activation or gradient.

The mode is a per-thread register.  :func:`flush_to_zero` sets it in the calling thread for a
block and then restores it; the worker threads of :mod:`code_base.fast.parallel` keep it on.
It is set through the C library's ``fegetenv`` / ``fesetenv`` (glibc on x86-64 or AArch64,
checked by its effect when this module loads); where that is not available :func:`supported`
is False and the kernels compute with gradual underflow: the same results up to subnormals, at a
slower pace when they occur.
"""

import contextlib
import ctypes
import ctypes.util
import platform
import struct

import numpy as np

__all__ = ["supported", "flush_to_zero", "enable_in_this_thread"]

_ENV_BYTES = 64  # more than glibc's fenv_t on the machines below
# platform.machine() -> (byte offset of the control register in glibc's fenv_t, its FTZ bits)
_LAYOUTS = {"x86_64": (28, 0x8040), "aarch64": (0, 1 << 24)}


class _Register:
    """The flush-to-zero bits of this thread's floating-point control register."""

    def __init__(self, libm, offset, bits):
        self._get, self._set = libm.fegetenv, libm.fesetenv
        self.offset, self.bits = offset, bits

    def is_on(self):
        env = ctypes.create_string_buffer(_ENV_BYTES)
        self._get(env)
        return struct.unpack_from("I", env, self.offset)[0] & self.bits == self.bits

    def turn(self, on):
        env = ctypes.create_string_buffer(_ENV_BYTES)
        self._get(env)  # the current status flags are kept
        word = struct.unpack_from("I", env, self.offset)[0]
        struct.pack_into("I", env, self.offset, word | self.bits if on else word & ~self.bits)
        self._set(env)


def _load():
    layout = _LAYOUTS.get(platform.machine())
    name = ctypes.util.find_library("m") if platform.system() == "Linux" else None
    if layout is None or name is None:
        return None
    try:
        register = _Register(ctypes.CDLL(name), *layout)
        was_on = register.is_on()
        register.turn(True)
        flushed = np.float32(1e-40) * np.float32(1.0) == 0
        register.turn(was_on)
    except (OSError, AttributeError):
        return None
    return register if flushed else None


_register = _load()


def supported():
    """True when this platform's flush-to-zero mode can be set (see the module docstring)."""
    return _register is not None


def enable_in_this_thread():
    """Turn the mode on for the rest of this thread's life (for the kernels' worker threads)."""
    if _register is not None:
        _register.turn(True)


@contextlib.contextmanager
def flush_to_zero():
    """Within the block, this thread computes subnormal floats as zero (where supported)."""
    if _register is None or _register.is_on():
        yield
        return
    _register.turn(True)
    try:
        yield
    finally:
        _register.turn(False)
