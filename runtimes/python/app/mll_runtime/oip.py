"""Open Inference Protocol (v2) JSON tensors <-> checked numpy arrays, and model metadata."""
from typing import Any, Iterator

import numpy as np

from .contract import Field, Signature
from .errors import Mismatch
from .shapes import check_count, check_shape

_INT_KINDS = "iu"


def _leaves(data: Any) -> Iterator[Any]:
    if isinstance(data, list):
        for item in data:
            yield from _leaves(item)
    else:
        yield data


def _typed(leaves: list[Any], field: Field) -> np.ndarray:
    dt = field.dtype
    if dt.is_string:
        if not all(isinstance(v, str) for v in leaves):
            raise Mismatch("data must hold strings for datatype BYTES")
        out = np.empty(len(leaves), dtype=object)
        out[:] = [v.encode("utf-8") for v in leaves]
        return out
    if dt.numpy.kind == "b":
        if not all(isinstance(v, bool) for v in leaves):
            raise Mismatch("data must hold true/false for datatype BOOL")
        return np.array(leaves, dtype=np.bool_)
    if dt.numpy.kind in _INT_KINDS:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in leaves):
            raise Mismatch(f"data must hold whole numbers for datatype {dt.oip}")
        info = np.iinfo(dt.numpy)
        if leaves and (min(leaves) < info.min or max(leaves) > info.max):
            raise Mismatch(f"data holds values outside the range of {dt.oip} ({info.min}..{info.max})")
        return np.array(leaves, dtype=dt.numpy)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in leaves):
        raise Mismatch(f"data must hold numbers for datatype {dt.oip}")
    return np.array(leaves, dtype=dt.numpy)


def input_to_array(item: dict[str, Any], field: Field) -> np.ndarray:
    dt = field.dtype
    if dt.oip is None:
        raise Mismatch(f"its contract type {dt.name} has no Open Inference Protocol datatype; call the gRPC face")
    if item.get("datatype") != dt.oip:
        raise Mismatch(f"datatype is {item.get('datatype')!r} but the contract says {dt.oip} ({dt.name})")
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise Mismatch(f"shape must be a list of sizes (whole numbers >= 0), got {shape!r}")
    shape_t = tuple(shape)
    check_shape(shape_t, field.shape)
    if "data" not in item:
        raise Mismatch("has no data")
    flat = _typed(list(_leaves(item["data"])), field)
    check_count(shape_t, flat.size)
    return flat.reshape(shape_t)


def array_to_output(arr: np.ndarray, field: Field) -> dict[str, Any]:
    dt = field.dtype
    if dt.oip is None:
        raise Mismatch(f"its contract type {dt.name} has no Open Inference Protocol datatype; call the gRPC face")
    flat = arr.reshape(-1)
    if dt.is_string:
        try:
            data: list[Any] = [b.decode("utf-8") for b in flat]
        except UnicodeDecodeError:
            raise Mismatch("holds bytes that are not UTF-8 text, which JSON cannot carry; call the gRPC face") from None
    else:
        data = flat.tolist()
    return {"name": field.name, "datatype": dt.oip, "shape": list(arr.shape), "data": data}


def field_metadata(field: Field) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": field.name, "datatype": field.dtype.oip, "shape": None if field.shape is None else list(field.shape)}
    if field.dtype.oip is None:
        meta["parameters"] = {"dtype": field.dtype.name, "note": "gRPC only"}
    return meta


def signature_metadata(name: str, sig: Signature, model_name: str) -> dict[str, Any]:
    return {
        "name": name,
        "versions": [],
        "platform": "mll-python",
        "inputs": [field_metadata(f) for f in sig.inputs],
        "outputs": [field_metadata(f) for f in sig.outputs],
        "parameters": {"model": model_name, "signature": sig.name},
    }
