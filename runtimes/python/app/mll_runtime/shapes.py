"""Shape checks against the contract: -1 accepts any size, () is a scalar, None any shape."""
from math import prod

from .contract import describe_shape
from .errors import Mismatch


def check_shape(got: tuple[int, ...], want: tuple[int, ...] | None) -> None:
    if want is None:
        return
    if len(got) != len(want):
        if len(want) == 0:
            raise Mismatch(f"expected a scalar (shape []), got shape {describe_shape(got)}")
        raise Mismatch(f"expected shape {describe_shape(want)} ({len(want)} dims), got {describe_shape(got)}")
    for i, (g, w) in enumerate(zip(got, want)):
        if w >= 0 and g != w:
            raise Mismatch(f"dim {i} is {g} but the contract says {w} (shape {describe_shape(want)}, got {describe_shape(got)})")


def check_count(shape: tuple[int, ...], count: int) -> None:
    expected = prod(shape)
    if expected != count:
        raise Mismatch(f"shape {describe_shape(shape)} holds {expected} values, but {count} were sent")
