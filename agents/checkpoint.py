"""Agent checkpoint files: plain data only, sealed with a checksum, one-line errors on damage.

Every file an agent's ``save`` writes goes through :func:`write_sealed`: the payload (an ``.npz`` archive,
a ``torch.save`` archive of tensors and plain values, or JSON) followed by one trailer line,
``#rl_suite-agent sha256=<hex digest of the payload>``. :func:`read_sealed` checks that line before any
parser sees the bytes, so a missing, empty, truncated, appended-to or bit-flipped file is one
:class:`CheckpointError` line naming the file. The checksum detects damage, not forgery: safety against a
crafted file comes from the parsers, which never build arbitrary objects — ``np.load(allow_pickle=False)``
(:func:`open_npz`), ``torch.load(weights_only=True)`` (:func:`parse_torch`) and ``json``. Whatever goes
wrong while a checkpoint is read and restored inside :func:`reading` becomes one line naming the file.

Payloads stay readable by the usual tools: ``np.load`` and ``torch.load`` ignore the trailer after their
zip archive.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rl_suite.errors import UserError

#: Version of the checkpoint layout; a file of another version is refused with a one-line error.
FORMAT = 2

_MAGIC = b"\n#rl_suite-agent sha256="
_TRAILER_LEN = len(_MAGIC) + 64 + 1  # magic, hex digest, newline

#: What parsing or restoring a damaged or crafted file can raise (all become one CheckpointError line).
_DAMAGE: tuple[type[BaseException], ...] = (
    ValueError,  # incl. JSONDecodeError, UnicodeDecodeError, pydantic's ValidationError
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    RuntimeError,  # torch: bad zip records, state_dict mismatches
    EOFError,
    OSError,
    zipfile.BadZipFile,
    pickle.UnpicklingError,
    SyntaxError,  # numpy's .npy header parser
    MemoryError,  # a damaged array header asking for an absurd shape
    OverflowError,
    struct.error,
    AssertionError,
)


class CheckpointError(UserError):
    """A saved agent that is missing, damaged, of another agent class, or not plain data."""


def class_id(cls: type) -> str:
    """``module:QualName`` of an agent class, as written into its checkpoint."""
    return f"{cls.__module__}:{cls.__qualname__}"


def one_line(text: str, limit: int = 400) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def sha256(payload: bytes) -> str:
    """Hex SHA-256 of ``payload``."""
    return hashlib.sha256(payload).hexdigest()


def seal(payload: bytes) -> bytes:
    """``payload`` followed by its checksum line (what :func:`write_sealed` writes)."""
    return payload + _MAGIC + sha256(payload).encode("ascii") + b"\n"


def write_sealed(path: str | Path, payload: bytes) -> None:
    """Write ``payload`` and its checksum line to ``path`` (through a temporary file, then a rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(seal(payload))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_sealed(path: str | Path) -> bytes:
    """The payload of a file written by :func:`write_sealed`, after checking its checksum.

    Raises:
        CheckpointError: the file is missing, unreadable, empty, truncated, has bytes appended or changed,
            or was not written by an rl_suite agent.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file (no saved agent there)")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(one_line(f"{path}: cannot be read ({exc.strerror or exc})")) from None
    if not data:
        raise CheckpointError(f"{path}: the file is empty")
    tail = data[-_TRAILER_LEN:]
    digest = tail[len(_MAGIC) : -1]
    if (
        len(data) < _TRAILER_LEN
        or not tail.startswith(_MAGIC)
        or not tail.endswith(b"\n")
        or re.fullmatch(rb"[0-9a-f]{64}", digest) is None
    ):
        raise CheckpointError(
            f"{path}: truncated, or not written by an rl_suite agent's save (its checksum line is missing)"
        )
    payload = data[:-_TRAILER_LEN]
    if sha256(payload).encode("ascii") != digest:
        raise CheckpointError(f"{path}: damaged (checksum mismatch: its bytes changed after it was written)")
    return payload


def describe(exc: BaseException) -> str:
    """A short, one-line description of what a parser or a restore raised."""
    if isinstance(exc, pickle.UnpicklingError):
        # Keep torch's line that names what was refused; the text around it suggests loading with
        # weights_only=False or allow-listing the global, which is no advice for a file from elsewhere.
        detail = ""
        for line in str(exc).splitlines():
            line = line.split("WeightsUnpickler error:")[-1].strip()
            if re.search(r"\bglobal\b|\bunsupported\b", line, re.IGNORECASE) and "weights_only" not in line:
                detail = f" ({re.split(r'[.] +(?=[A-Z])', line)[0].rstrip('.')})"
                break
        return f"it holds objects other than tensors and plain data, refused{detail}"
    if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
        # numpy's text suggests loading with allow_pickle=True: no advice for a file from elsewhere.
        if "Object arrays" in str(exc):
            return "it holds object arrays (pickled objects), refused"
        return "not an .npz archive: numpy reads it as pickled data, refused"
    if isinstance(exc, KeyError):
        return f"missing entry {exc}"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def reading(path: str | Path, what: str = "an agent checkpoint") -> Iterator[None]:
    """Turn anything that goes wrong while reading and restoring ``path`` into one CheckpointError line.

    A :class:`CheckpointError` passes through; any other :class:`UserError` (e.g. the saved config does not
    fit the env) and every parse or restore failure (:data:`_DAMAGE`) are re-raised as one line that starts
    with the file's path; ``what`` names what the file should have been.
    """
    try:
        yield
    except CheckpointError:
        raise
    except UserError as exc:
        raise CheckpointError(one_line(f"{path}: cannot be restored: {exc}")) from None
    except _DAMAGE as exc:
        raise CheckpointError(one_line(f"{path}: damaged or not {what} ({describe(exc)})")) from None


def check_meta(meta: Any, cls: type, path: str | Path) -> dict[str, Any]:
    """Check that a checkpoint's metadata is a mapping of this format, written by agent class ``cls``."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its metadata must be a mapping, got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            one_line(
                f"{path}: written in agent checkpoint format {meta.get('format')!r}; this rl_suite reads "
                f"format {FORMAT}"
            )
        )
    saved, wanted = meta.get("class"), class_id(cls)
    if saved != wanted:
        raise CheckpointError(one_line(f"{path}: holds a {saved!r} agent, not a {wanted!r} one"))
    return meta


# --------------------------------------------------------------------------- JSON
def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` (plain JSON data) sealed to ``path``."""
    write_sealed(path, json.dumps(obj).encode("utf-8"))


def parse_json(payload: bytes) -> Any:
    """Parse a JSON payload (raises ``ValueError`` on bad bytes or bad JSON)."""
    return json.loads(payload.decode("utf-8"))


def read_json(path: str | Path) -> Any:
    """Read a sealed JSON file; a one-line :class:`CheckpointError` on any problem."""
    with reading(path):
        return parse_json(read_sealed(path))


# --------------------------------------------------------------------------- npz
def open_npz(payload: bytes) -> Any:
    """Open an ``.npz`` payload without pickle (object arrays are refused); use it as a context manager."""
    return np.load(io.BytesIO(payload), allow_pickle=False)


# --------------------------------------------------------------------------- torch
def plain_tree(value: Any, where: str = "state") -> Any:
    """``value`` checked to hold only tensors and plain values; numpy scalars become Python ones.

    Plain values are ``None``, ``bool``, ``int``, ``float``, ``str`` and lists, tuples and dicts of them
    (dict keys ``str`` or ``int``, as optimiser states have). State dicts keep their type and metadata.

    Raises:
        TypeError: something else (a numpy array, an arbitrary object) is in ``value``.
    """
    import torch

    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.generic) and not isinstance(value, (np.void, np.object_)):
        return value.item()
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (list, tuple):
        return type(value)(plain_tree(v, f"{where}/{i}") for i, v in enumerate(value))
    if type(value) in (dict, OrderedDict):
        out = type(value)()
        for k, v in value.items():
            if type(k) not in (str, int):
                raise TypeError(f"{where}: key {k!r} is not a str or an int")
            out[k] = plain_tree(v, f"{where}/{k}")
        if hasattr(value, "_metadata"):  # a module's state_dict: keep its version records
            out._metadata = value._metadata
        return out
    raise TypeError(
        f"{where}: {type(value).__name__} is not a tensor or plain value; convert it before saving"
    )


def torch_payload(state: Any) -> bytes:
    """``torch.save`` bytes of ``state`` after :func:`plain_tree` checked it."""
    import torch

    buf = io.BytesIO()
    torch.save(plain_tree(state), buf)
    return buf.getvalue()


def parse_torch(payload: bytes, map_location: Any = "cpu") -> Any:
    """Load a ``torch.save`` payload with ``weights_only=True``: tensors and plain values, nothing else."""
    import torch

    return torch.load(io.BytesIO(payload), weights_only=True, map_location=map_location)
