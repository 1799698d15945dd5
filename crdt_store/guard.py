"""The one place where foreign update bytes meet pycrdt.

pycrdt raises ValueError or RuntimeError for undecodable updates, and a Rust panic
arrives as pyo3_runtime.PanicException, which derives from BaseException. Every
entry point that takes bytes from disk or a peer goes through here, so a bad
update becomes a CorruptUpdateError instead of a crash.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, TypeVar

from pycrdt import Doc, get_state, merge_updates

from .errors import CorruptUpdateError
from .update_structs import sound_ranges

T = TypeVar("T")


def is_rust_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


def guarded(action: Callable[[], T], what: str) -> T:
    """Run a pycrdt call on foreign bytes; every decoding failure becomes CorruptUpdateError."""
    try:
        return action()
    except (ValueError, RuntimeError, TypeError, OverflowError) as exc:
        raise CorruptUpdateError(f"{what}: {exc}") from exc
    except BaseException as exc:
        if is_rust_panic(exc):
            raise CorruptUpdateError(f"{what} (the CRDT engine failed): {exc}") from exc
        raise


def _as_bytes(data: object) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CorruptUpdateError(f"an update must be bytes, not {type(data).__name__}")
    return bytes(data)


def apply_update_guarded(doc: Doc, data: bytes) -> None:
    """Apply update bytes to `doc`; any decoding failure becomes CorruptUpdateError."""
    blob = _as_bytes(data)
    guarded(lambda: doc.apply_update(blob), "update could not be applied")


class CheckedUpdate(NamedTuple):
    data: bytes
    inserted: dict[int, list[tuple[int, int]]]  # the ids it inserts, per client


def check_update(data: bytes) -> CheckedUpdate:
    """Fully decode peer bytes without touching any document, by yrs and then by the
    plain-Python reader, which also refuses what yrs takes but mishandles
    (`update_structs.sound_ranges`)."""
    blob = _as_bytes(data)
    guarded(lambda: get_state(blob), "update could not be decoded")
    return CheckedUpdate(blob, guarded(lambda: sound_ranges(blob), "update refused"))


def merge_updates_guarded(blobs: list[bytes]) -> bytes:
    """One update equivalent to all of `blobs`."""
    if len(blobs) == 1:
        return blobs[0]
    return guarded(lambda: merge_updates(*blobs), "updates could not be merged")
