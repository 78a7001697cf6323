"""The checkpoint file format: a nested dict of arrays, numbers and strings as a plain .npz.

What goes in is the owner's business (the Solver's ``state_dict()``); this module only stores
it so that ``np.load(path, allow_pickle=False)`` reads it back:

- a nested dict is flattened to entries named by its keys joined with '/' (``'param/W1'``,
  ``'optim/W1/m'``); keys may not contain '/'; an entry whose value is None is left out;
- arrays stay arrays; lists become 1-d float arrays; numbers, bools and strings become 0-d
  arrays and come back as Python scalars;
- the entry ``'format_version'`` says how to read the rest: this module reads
  ``FORMAT_VERSION`` only and refuses any other in one line.

Random generators are stored as their PCG64 state in 6 uint64 words
(:func:`rng_state_to_array`); :func:`set_rng_state` refuses words that are not a PCG64 state
(an even increment makes the generator repeat one value forever).
"""
import os
import zipfile

import numpy as np

from .fileio import atomic_write

__all__ = ["FORMAT_VERSION", "save_checkpoint", "load_checkpoint", "rng_state_to_array",
           "rng_state_from_array", "set_rng_state"]

FORMAT_VERSION = 3  # 3: written by Solver.state_dict (2 and 1: by utils.checkpoint.save_solver)
_MASK64 = (1 << 64) - 1


def rng_state_to_array(rng):
    """Encode a PCG64-backed Generator's state as 6 uint64 words."""
    state = rng.bit_generator.state
    if state["bit_generator"] != "PCG64":
        raise ValueError(
            f"only PCG64 generators can be checkpointed, got {state['bit_generator']}")
    s, inc = state["state"]["state"], state["state"]["inc"]
    words = [s >> 64, s & _MASK64, inc >> 64, inc & _MASK64,
             state["has_uint32"], state["uinteger"]]
    return np.array(words, dtype=np.uint64)


def set_rng_state(rng, words, name="rng_state"):
    """Give the PCG64 Generator ``rng`` the state encoded by :func:`rng_state_to_array`.

    ValueError naming ``name`` when the words are not a PCG64 state: 6 uint64 words whose
    increment is odd (PCG64 keeps it odd; an even one, all zeros say, never leaves its value).
    """
    words = np.asarray(words)
    if words.shape != (6,) or words.dtype != np.uint64:
        raise ValueError(f"{name} must be 6 uint64 words, got {words.dtype} {words.shape}")
    words = [int(x) for x in words]
    if words[3] % 2 == 0 or words[4] > 1 or words[5] >= 1 << 32:
        raise ValueError(f"{name} is not a PCG64 generator state (its increment must be odd, "
                         f"got words {words})")
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": (words[0] << 64) | words[1], "inc": (words[2] << 64) | words[3]},
        "has_uint32": words[4],
        "uinteger": words[5],
    }
    return rng


def rng_state_from_array(words, name="rng_state"):
    """Inverse of `rng_state_to_array`: a new np.random.Generator."""
    return set_rng_state(np.random.Generator(np.random.PCG64()), words, name)


def _flatten(state, prefix, entries):
    for key, value in state.items():
        if not isinstance(key, str) or "/" in key or not key:
            raise ValueError(f"checkpoint key {prefix}{key!r} must be a non-empty string "
                             "without '/'")
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + "/", entries)
        elif value is not None:
            arr = np.asarray(value, dtype=np.float64 if isinstance(value, list) else None)
            if arr.dtype.hasobject:
                raise ValueError(f"checkpoint entry '{name}' is not numeric (value {value!r})")
            entries[name] = arr


def save_checkpoint(path, state):
    """Write the nested dict ``state`` to ``path`` atomically (see the module's docstring).

    The archive is written to a temporary file in the same directory and then moved over
    `path`, so a crash never leaves a half-written checkpoint behind. `path` is used as given
    (no '.npz' is appended).
    """
    path = os.fspath(path)
    entries = {}
    _flatten(state, "", entries)
    entries["format_version"] = np.array(FORMAT_VERSION)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"checkpoint directory does not exist: {directory}")
    atomic_write(path, lambda f: np.savez(f, **entries))


def _value(arr):
    if arr.ndim:
        return arr
    value = arr.item()
    return str(value) if isinstance(value, str) else value


def load_checkpoint(path):
    """The nested dict saved by :func:`save_checkpoint` (without 'format_version').

    FileNotFoundError if ``path`` is missing; ValueError naming the file if it is not a
    readable checkpoint of this format.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            entries = {key: archive[key] for key in archive.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, KeyError) as e:
        raise ValueError(f"{path} is not a readable checkpoint ({type(e).__name__}: {e})") from None
    version = _value(entries.pop("format_version", np.array(-1)))
    if version != FORMAT_VERSION:
        found = "no format_version" if version == -1 else f"format {version!r}"
        raise ValueError(f"{path} has {found}; this version reads checkpoint format "
                         f"{FORMAT_VERSION} only (train again without --resume)")
    state = {}
    for key, arr in entries.items():
        *groups, name = key.split("/")
        node = state
        for group in groups:
            node = node.setdefault(group, {})
            if not isinstance(node, dict):
                raise ValueError(f"{path} is not a readable checkpoint (entry '{key}' is inside "
                                 f"the value '{group}')")
        if isinstance(node.get(name), dict):
            raise ValueError(f"{path} is not a readable checkpoint (entry '{key}' is also a group)")
        node[name] = _value(arr)
    return state
