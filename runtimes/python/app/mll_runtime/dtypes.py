"""Contract data types (TensorFlow's DataType numbers) and how each travels: numpy dtype, the
TensorProto value field, and the Open Inference Protocol datatype (None: not carried over HTTP)."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DType:
    number: int
    name: str  # as in the contract's JSON form
    numpy: np.dtype  # object for strings (bytes elements)
    field: str  # TensorProto repeated field holding the values
    oip: str | None

    @property
    def is_string(self) -> bool:
        return self.field == "string_val"

    @property
    def enum_name(self) -> str:
        return f"DT_{self.name.upper()}"


_TABLE = [
    DType(1, "float", np.dtype(np.float32), "float_val", "FP32"),
    DType(2, "double", np.dtype(np.float64), "double_val", "FP64"),
    DType(3, "int32", np.dtype(np.int32), "int_val", "INT32"),
    DType(4, "uint8", np.dtype(np.uint8), "int_val", "UINT8"),
    DType(5, "int16", np.dtype(np.int16), "int_val", "INT16"),
    DType(6, "int8", np.dtype(np.int8), "int_val", "INT8"),
    DType(7, "string", np.dtype(object), "string_val", "BYTES"),
    DType(8, "complex64", np.dtype(np.complex64), "scomplex_val", None),
    DType(9, "int64", np.dtype(np.int64), "int64_val", "INT64"),
    DType(10, "bool", np.dtype(np.bool_), "bool_val", "BOOL"),
    DType(11, "qint8", np.dtype(np.int8), "int_val", None),
    DType(12, "quint8", np.dtype(np.uint8), "int_val", None),
    DType(13, "qint32", np.dtype(np.int32), "int_val", None),
    DType(15, "qint16", np.dtype(np.int16), "int_val", None),
    DType(16, "quint16", np.dtype(np.uint16), "int_val", None),
    DType(17, "uint16", np.dtype(np.uint16), "int_val", "UINT16"),
    DType(18, "complex128", np.dtype(np.complex128), "dcomplex_val", None),
    DType(19, "half", np.dtype(np.float16), "half_val", "FP16"),
    DType(22, "uint32", np.dtype(np.uint32), "uint32_val", "UINT32"),
    DType(23, "uint64", np.dtype(np.uint64), "uint64_val", "UINT64"),
]
BY_NUMBER = {d.number: d for d in _TABLE}

# Known to the contract but without a numpy form here.
UNSUPPORTED = {0: "invalid", 14: "bfloat16", 20: "resource", 21: "variant", 27: "map"}


def dtype_name(number: int) -> str:
    if number in BY_NUMBER:
        return BY_NUMBER[number].name
    return UNSUPPORTED.get(number, f"dtype {number}")

