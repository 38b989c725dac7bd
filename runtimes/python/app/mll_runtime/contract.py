"""The model contract, read from /model/contract.protobin (CONTRACT.md)."""
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from hydro_serving_grpc.contract_pb2 import ModelContract, ModelField

from .dtypes import BY_NUMBER, DType, dtype_name


class ContractError(Exception):
    """The contract is missing or cannot be served; the runtime exits with this message."""


@dataclass(frozen=True)
class Field:
    name: str
    dtype: DType
    shape: tuple[int, ...] | None  # None: unknown rank; (): scalar; -1: any size


@dataclass(frozen=True)
class Signature:
    name: str
    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]

    def input(self, name: str) -> Field | None:
        return next((f for f in self.inputs if f.name == name), None)


@dataclass(frozen=True)
class Contract:
    model_name: str
    signatures: dict[str, Signature]


def describe_shape(shape: tuple[int, ...] | list[int] | None) -> str:
    if shape is None:
        return "any shape"
    if len(shape) == 0:
        return "a scalar (shape [])"
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _field(pb: ModelField, where: str) -> Field:
    if pb.WhichOneof("type_or_subfields") != "dtype":
        raise ContractError(f"{where} has subfields; this runtime serves fields with a data type only")
    dtype = BY_NUMBER.get(pb.dtype)
    if dtype is None:
        raise ContractError(f"{where} has type {dtype_name(pb.dtype)}, which this runtime cannot serve")
    shape = None if pb.shape.unknown_rank else tuple(d.size for d in pb.shape.dim)
    return Field(pb.name, dtype, shape)


def parse_contract(data: bytes) -> Contract:
    msg = ModelContract()
    try:
        msg.ParseFromString(data)
    except DecodeError as err:
        raise ContractError(f"the contract is not a valid ModelContract ({err})") from err
    signatures: dict[str, Signature] = {}
    for sig in msg.signatures:
        where = f"signature {sig.signature_name}"
        signatures[sig.signature_name] = Signature(
            sig.signature_name,
            tuple(_field(f, f"{where}, input {f.name}") for f in sig.inputs),
            tuple(_field(f, f"{where}, output {f.name}") for f in sig.outputs),
        )
    if not signatures:
        raise ContractError("the contract has no signatures")
    return Contract(msg.model_name, signatures)


def load_contract(path: str) -> Contract:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ContractError(
            f"no model contract at {path}. This image is the runtime alone: it serves a model whose files and "
            "contract are layered on top of it (ML Lambda builds such images), or a model directory mounted at "
            "MODEL_DIR (files/src/func_main.py and contract.protobin)") from None
    return parse_contract(data)
