"""Plain-data state: what envs and agents save for resume, with nothing that can execute on load.

A *state* is a nested mapping whose leaves are JSON values (``None``, ``bool``, ``int``, ``float``, ``str``,
lists of them) or numpy arrays. :func:`write_state` stores it as two files, ``<name>.json`` (the structure
and every plain value) and ``<name>.npz`` (the arrays, read back with ``allow_pickle=False``), so a state
file copied from elsewhere is data, never code. Every env implements the pair
``get_state() -> State`` / ``set_state(State)`` (:class:`StatefulEnv`); the runner's checkpoints hold it.

NumPy generators are captured by :func:`rng_state` (the bit generator's own ``state`` mapping, plain JSON)
and restored by :func:`set_rng_state`.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rl_suite.errors import UserError

#: A plain-data state: nested dicts/lists of JSON values and numpy arrays.
State = dict[str, Any]

_ARRAY_TAG = "__ndarray__"
_FLOAT_TAG = "__float__"


@runtime_checkable
class StatefulEnv(Protocol):
    """An env whose dynamic state (RNG streams, step counters, current state) round-trips as plain data.

    ``set_state(get_state())`` on a freshly made env with the same constructor arguments, after one
    ``reset()``, makes every later step bit-identical to the env the state was taken from.
    """

    def get_state(self) -> State:
        """The env's dynamic state as plain data."""
        ...

    def set_state(self, state: State) -> None:
        """Restore a state returned by :meth:`get_state` of an env built with the same arguments."""
        ...


def rng_state(generator: np.random.Generator) -> dict[str, Any]:
    """The state of ``generator``'s bit generator as a JSON-able mapping."""
    return _plain(generator.bit_generator.state)


def set_rng_state(generator: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore a state from :func:`rng_state` into ``generator`` (same bit-generator type)."""
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise StateError(f"bad random-generator state: {exc}") from None


def new_generator(state: dict[str, Any]) -> np.random.Generator:
    """A fresh generator positioned at ``state`` (a :func:`rng_state` of any numpy bit generator)."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    cls = getattr(np.random, str(name), None)
    if not isinstance(cls, type) or not issubclass(cls, np.random.BitGenerator):
        raise StateError(f"unknown bit generator {name!r} in a saved state")
    gen = np.random.Generator(cls())
    set_rng_state(gen, state)
    return gen


class StateError(UserError):
    """A saved state that is missing, damaged or does not fit the object it is loaded into."""


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars turned into Python ones (containers copied)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _encode(value: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"state entry {path!r} is an object array; only plain arrays are allowed")
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {_ARRAY_TAG: key}
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise TypeError(f"state keys must be strings, got {k!r} at {path!r}")
        return {k: _encode(v, arrays, f"{path}/{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, arrays, f"{path}/{i}") for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {_FLOAT_TAG: repr(value)}  # JSON has no inf/nan; keep them exactly
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"state entry {path!r} has type {type(value).__name__}; only plain data is allowed")


def _decode(value: Any, arrays: Any, where: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY_TAG}:
            key = value[_ARRAY_TAG]
            if not isinstance(key, str) or key not in arrays.files:
                raise StateError(f"{where}: array {key!r} is missing from the .npz file")
            return np.array(arrays[key])
        if set(value) == {_FLOAT_TAG}:
            text = value[_FLOAT_TAG]
            if text not in ("inf", "-inf", "nan"):
                raise StateError(f"{where}: bad float {text!r}")
            return float(text)
        return {k: _decode(v, arrays, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays, where) for v in value]
    return value


def write_state(state: State, folder: str | Path, name: str) -> list[Path]:
    """Write ``state`` as ``<folder>/<name>.json`` and ``<folder>/<name>.npz``; returns both paths.

    Raises:
        TypeError: a leaf is not plain data (an object array, a class instance, ...).
    """
    folder = Path(folder)
    arrays: dict[str, np.ndarray] = {}
    encoded = _encode(state, arrays, name)
    json_path, npz_path = folder / f"{name}.json", folder / f"{name}.npz"
    json_path.write_text(json.dumps(encoded), encoding="utf-8")
    with npz_path.open("wb") as fh:
        np.savez(fh, allow_pickle=False, **arrays)
    return [json_path, npz_path]


def read_json_object(path: str | Path, error: type[UserError] = UserError) -> dict[str, Any]:
    """The JSON object in ``path``; a missing, non-UTF-8, invalid or non-object file is one ``error`` line."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise error(f"{path} cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise error(f"{path} is damaged (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise error(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def read_state(folder: str | Path, name: str) -> State:
    """Read a state written by :func:`write_state`; a damaged file is a one-line :class:`StateError`."""
    folder = Path(folder)
    json_path, npz_path = folder / f"{name}.json", folder / f"{name}.npz"
    for p in (json_path, npz_path):
        if not p.is_file():
            raise StateError(f"{p} is missing")
    encoded = read_json_object(json_path, StateError)
    try:
        with np.load(npz_path, allow_pickle=False) as arrays:
            return _decode(encoded, arrays, str(npz_path))
    except StateError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise StateError(f"{npz_path} is damaged ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------- checking a state on load

#: A check of one state entry: ``check(value, path)`` returns the value to use or raises :class:`StateError`.
Check = Callable[[Any, str], Any]


def plain_copy(value: Any) -> Any:
    """``value`` as plain data: numpy scalars become Python ones, tuples lists; arrays are copied."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {str(k): plain_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_copy(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_state(state: Any, checks: dict[str, Check], where: str) -> dict[str, Any]:
    """Validate a state mapping against one check per entry, before anything is restored from it.

    Args:
        state: The state given to a ``set_state``.
        checks: The entries the state must hold (no more, no fewer), each with its check.
        where: What the state is for (a class name), the start of every error message.

    Returns:
        The entries as the checks return them (numbers as Python numbers, arrays as fresh copies).

    Raises:
        StateError: One line naming the entry and what is wrong with it (missing, unexpected, wrong type,
            wrong shape, out of range).
    """
    return mapping(checks)(state, f"{where} state")


def mapping(checks: dict[str, Check]) -> Check:
    """A nested mapping with exactly the entries of ``checks``."""

    def check(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise StateError(f"{path} must be a mapping, got {type(value).__name__}")
        for key in checks:
            if key not in value:
                raise StateError(f"{path} has no entry {key!r}")
        for key in value:
            if key not in checks:
                raise StateError(f"{path} has an unexpected entry {key!r}")
        return {key: c(value[key], f"{path}.{key}") for key, c in checks.items()}

    return check


def integer(low: int | None = None, high: int | None = None) -> Check:
    """A Python or numpy integer (not a bool) in ``[low, high)`` (either bound may be ``None``)."""

    def check(value: Any, path: str) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise StateError(f"{path} must be an integer, got {type(value).__name__}")
        if (low is not None and value < low) or (high is not None and value >= high):
            raise StateError(f"{path} = {value} is outside [{low}, {high})")
        return int(value)

    return check


def number() -> Check:
    """A real number (an int is accepted; a bool is not), returned as a ``float``."""

    def check(value: Any, path: str) -> float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)
        ):
            raise StateError(f"{path} must be a number, got {type(value).__name__}")
        return float(value)

    return check


def flag() -> Check:
    """A bool."""

    def check(value: Any, path: str) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise StateError(f"{path} must be true or false, got {type(value).__name__}")
        return bool(value)

    return check


def array(
    shape: tuple[int | None, ...],
    dtype: Any = np.float64,
    low: float | None = None,
    high: float | None = None,
) -> Check:
    """A numpy array of this ``shape`` (``None``: any length) and exactly this ``dtype``, copied.

    ``low``/``high`` bound the entries to ``[low, high)`` when given.
    """
    dtype = np.dtype(dtype)

    def check(value: Any, path: str) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            raise StateError(f"{path} must be an array, got {type(value).__name__}")
        if value.ndim != len(shape) or any(
            n not in (None, m) for n, m in zip(shape, value.shape, strict=False)
        ):
            want = str(tuple(-1 if n is None else n for n in shape)).replace("-1", "any")
            raise StateError(f"{path} has shape {value.shape}, expected {want}")
        if value.dtype != dtype:
            raise StateError(f"{path} has dtype {value.dtype}, expected {dtype}")
        if value.size and (
            (low is not None and value.min() < low) or (high is not None and value.max() >= high)
        ):
            raise StateError(f"{path} has entries outside [{low}, {high})")
        return value.copy()

    return check


def generator_state(bit_generator: str | None = None) -> Check:
    """A :func:`rng_state` of a numpy generator (of the ``bit_generator`` class, e.g. ``"PCG64"``, if given).

    The state is tried on a scratch generator, so a damaged one is refused before anything is restored.
    """

    def check(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise StateError(f"{path} must be a random-generator state mapping, got {type(value).__name__}")
        name = value.get("bit_generator")
        if bit_generator is not None and name != bit_generator:
            raise StateError(f"{path} is a state of bit generator {name!r}, expected {bit_generator!r}")
        try:
            new_generator(value)
        except StateError as exc:
            raise StateError(f"{path}: {exc}") from None
        except (OverflowError, AttributeError) as exc:
            raise StateError(f"{path}: bad random-generator state: {exc}") from None
        return value

    return check


def optional(inner: Check) -> Check:
    """``None`` or a value that passes ``inner``."""

    def check(value: Any, path: str) -> Any:
        return None if value is None else inner(value, path)

    return check


def sequence(inner: Check, length: int) -> Check:
    """A list (or tuple) of exactly ``length`` values, each passing ``inner``."""

    def check(value: Any, path: str) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            raise StateError(f"{path} must be a list, got {type(value).__name__}")
        if len(value) != length:
            raise StateError(f"{path} has {len(value)} entries, expected {length}")
        return [inner(v, f"{path}[{i}]") for i, v in enumerate(value)]

    return check
