"""Contract building blocks for the tests."""
from mll_runtime.contract import Contract, Field, Signature
from mll_runtime.dtypes import BY_NUMBER

NUMBERS = {d.name: n for n, d in BY_NUMBER.items()}


def field(name: str, dtype: str, shape: tuple[int, ...] | None) -> Field:
    return Field(name, BY_NUMBER[NUMBERS[dtype]], shape)


def contract(*signatures: Signature, model_name: str = "m") -> Contract:
    return Contract(model_name, {s.name: s for s in signatures})


LINEAR = Signature("predict", (field("x", "float", (-1,)),), (field("y", "float", (-1,)),))
