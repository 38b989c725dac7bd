"""The 2020 calling convention's values: checked arrays <-> what func_main functions take and return.
In: a scalar becomes a Python value (str for UTF-8 text), any other tensor a numpy array (strings as an
object array of str). Out: whatever the function returned for an output, checked against its field."""
from typing import Any

import numpy as np

from .contract import Field
from .dtypes import DType
from .errors import Mismatch
from .shapes import check_shape


def _text(b: bytes) -> str | bytes:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b  # binary payloads (images, …) stay bytes


def to_user_value(arr: np.ndarray, field: Field) -> Any:
    if field.dtype.is_string:
        if arr.ndim == 0:
            return _text(arr.item())
        out = np.empty(arr.size, dtype=object)
        out[:] = [_text(b) for b in arr.reshape(-1)]
        return out.reshape(arr.shape)
    return arr.item() if arr.ndim == 0 else arr


def _string_array(value: Any) -> np.ndarray:
    if isinstance(value, (str, bytes)):
        items, shape = [value], ()
    else:
        arr = np.asarray(value, dtype=object)
        items, shape = arr.reshape(-1).tolist(), arr.shape
    out = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        if isinstance(v, str):
            out[i] = v.encode("utf-8")
        elif isinstance(v, (bytes, bytearray)):
            out[i] = bytes(v)
        else:
            raise Mismatch(f"holds a {type(v).__name__} where the contract says string")
    return out.reshape(shape)


# Which kinds of numpy values each contract kind accepts (an int fits a float field, not the reverse).
_ACCEPTS = {"b": "b", "i": "iu", "u": "iu", "f": "iuf", "c": "iufc"}


def _numeric_array(value: Any, dt: DType) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except ValueError as err:  # ragged nesting
        raise Mismatch(f"is not a rectangular array ({err})") from None
    if arr.dtype.kind not in _ACCEPTS[dt.numpy.kind] or (arr.dtype.kind == "b" and dt.numpy.kind != "b"):
        raise Mismatch(f"holds {arr.dtype.name} values where the contract says {dt.name}")
    if dt.numpy.kind in "iu" and arr.size:
        info = np.iinfo(dt.numpy)
        if arr.min() < info.min or arr.max() > info.max:
            raise Mismatch(f"holds values outside the range of {dt.name} ({info.min}..{info.max})")
    return arr.astype(dt.numpy)


def from_user_value(value: Any, field: Field) -> np.ndarray:
    arr = _string_array(value) if field.dtype.is_string else _numeric_array(value, field.dtype)
    check_shape(arr.shape, field.shape)
    return arr
