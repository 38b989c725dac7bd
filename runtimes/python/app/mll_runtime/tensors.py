"""TensorProto <-> numpy, checked against a contract field. Requests may carry values in the typed
*_val fields or in tensor_content; answers use the typed fields (as TensorFlow Serving's clients expect)."""
import numpy as np

from hydro_serving_grpc.tensor_pb2 import TensorProto

from .contract import Field
from .dtypes import dtype_name
from .errors import Mismatch
from .shapes import check_count, check_shape


def _checked_ints(values, target: np.dtype) -> np.ndarray:
    arr = np.asarray(values, dtype=np.int64)
    info = np.iinfo(target)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise Mismatch(f"holds values outside the range of {target.name} ({info.min}..{info.max})")
    return arr.astype(target)


def _from_fields(t: TensorProto, field: Field) -> np.ndarray:
    dt = field.dtype
    values = getattr(t, dt.field)
    if dt.is_string:
        out = np.empty(len(values), dtype=object)
        out[:] = list(values)
        return out
    if dt.field == "int_val":
        return _checked_ints(values, dt.numpy)
    if dt.field == "half_val":
        return _checked_ints(values, np.dtype(np.uint16)).view(np.float16)
    if dt.field in ("scomplex_val", "dcomplex_val"):
        parts = np.asarray(values, dtype=np.float32 if dt.field == "scomplex_val" else np.float64)
        if parts.size % 2:
            raise Mismatch(f"{dt.field} holds {parts.size} numbers; complex values come in (real, imaginary) pairs")
        return parts.view(dt.numpy)
    return np.asarray(values, dtype=dt.numpy)


def _from_content(t: TensorProto, field: Field) -> np.ndarray:
    dt = field.dtype
    if dt.is_string:
        raise Mismatch("string tensors carry their values in string_val, not tensor_content")
    if len(t.tensor_content) % dt.numpy.itemsize:
        raise Mismatch(f"tensor_content has {len(t.tensor_content)} bytes, not a multiple of {dt.numpy.itemsize} ({dt.name})")
    return np.frombuffer(t.tensor_content, dtype=dt.numpy.newbyteorder("<")).astype(dt.numpy)


def tensor_to_array(t: TensorProto, field: Field) -> np.ndarray:
    """The tensor's values shaped as it says, after checking dtype, shape and value count against the field."""
    if t.dtype != field.dtype.number:
        raise Mismatch(f"dtype is DT_{dtype_name(t.dtype).upper()} but the contract says {field.dtype.enum_name}")
    dims = tuple(d.size for d in t.tensor_shape.dim)
    if any(d < 0 for d in dims):
        raise Mismatch(f"tensor_shape has an unknown size ({list(dims)}); a tensor sent needs every size")
    flat = _from_content(t, field) if t.tensor_content else _from_fields(t, field)
    shape = (flat.size,) if t.tensor_shape.unknown_rank else dims
    check_count(shape, flat.size)
    check_shape(shape, field.shape)
    return flat.reshape(shape)


def array_to_tensor(arr: np.ndarray, field: Field) -> TensorProto:
    """A checked array (see values.py / tensors.py) as a TensorProto of the field's dtype."""
    dt = field.dtype
    t = TensorProto(dtype=dt.number)
    t.tensor_shape.SetInParent()
    for size in arr.shape:
        t.tensor_shape.dim.add(size=size)
    flat = arr.reshape(-1)
    target = getattr(t, dt.field)
    if dt.is_string:
        target.extend(flat.tolist())
    elif dt.field == "half_val":
        target.extend(flat.astype(np.float16).view(np.uint16).astype(np.int32).tolist())
    elif dt.field in ("scomplex_val", "dcomplex_val"):
        target.extend(flat.astype(dt.numpy).view(np.float32 if dt.field == "scomplex_val" else np.float64).tolist())
    else:
        target.extend(flat.astype(dt.numpy).tolist())
    return t
