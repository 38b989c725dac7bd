"""The one data plane both faces call: find the signature, check and decode the inputs by the contract,
call func_main in its calling convention, and check its outputs by the contract."""
import logging
from collections.abc import Mapping
from typing import Any, Callable, TypeVar

import numpy as np

from hydro_serving_grpc.predict_pb2 import PredictResponse

from .contract import Contract, Field, Signature
from .errors import BadOutput, InvalidInput, Mismatch, ModelFailed, NotAResponse, NotReady
from .model import TENSORS, Model, call
from .tensors import array_to_tensor, tensor_to_array
from .values import from_user_value, to_user_value

log = logging.getLogger("mll_runtime")
Raw = TypeVar("Raw")


class DataPlane:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.model: Model | None = None
        self.stopping = False

    @property
    def ready(self) -> bool:
        return self.model is not None and not self.stopping

    def signature(self, name: str) -> Signature | None:
        return self.contract.signatures.get(name)

    def signature_names(self) -> list[str]:
        return sorted(self.contract.signatures)

    def decode_inputs(self, sig: Signature, raw: Mapping[str, Raw], decode: Callable[[Raw, Field], np.ndarray]) -> dict[str, np.ndarray]:
        """Every input of the signature, decoded and checked; the first problem is reported by name."""
        expected = ", ".join(f.name for f in sig.inputs)
        for name in raw:
            if sig.input(name) is None:
                raise InvalidInput(f"unknown input {name!r}: signature {sig.name} takes {expected}")
        arrays: dict[str, np.ndarray] = {}
        for field in sig.inputs:
            if field.name not in raw:
                raise InvalidInput(f"missing input {field.name!r}: signature {sig.name} takes {expected}")
            try:
                arrays[field.name] = decode(raw[field.name], field)
            except Mismatch as err:
                raise InvalidInput(f"input {field.name}: {err}") from None
        return arrays

    def infer(self, sig: Signature, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        model = self.model
        if self.stopping:
            raise NotReady("the runtime is stopping")
        if model is None:
            raise NotReady("the model is still loading; retry when GET /v2/health/ready answers 200")
        fields = {f.name: f for f in sig.inputs}
        if model.convention == TENSORS:
            result = self._call(model, sig, {n: array_to_tensor(a, fields[n]) for n, a in inputs.items()})
            if not isinstance(result, PredictResponse):
                raise NotAResponse(f"func_main.{sig.name} returned {type(result).__name__}; a function that uses "
                                   "hydro_serving_grpc must return hs.PredictResponse(outputs={...})")
            return self._outputs(sig, result.outputs, tensor_to_array)
        result = self._call(model, sig, {n: to_user_value(a, fields[n]) for n, a in inputs.items()})
        if not isinstance(result, Mapping):
            raise BadOutput(f"func_main.{sig.name} returned {type(result).__name__}; it must return a dict of "
                            f"output name -> value ({', '.join(f.name for f in sig.outputs)})")
        return self._outputs(sig, result, from_user_value)

    @staticmethod
    def _call(model: Model, sig: Signature, kwargs: dict[str, Any]) -> Any:
        try:
            return call(model.functions[sig.name], kwargs)
        except Exception as err:
            log.exception("func_main.%s raised", sig.name)
            raise ModelFailed(f"func_main.{sig.name} raised {type(err).__name__}: {err}") from err

    @staticmethod
    def _outputs(sig: Signature, raw: Mapping[str, Any], decode: Callable[[Any, Field], np.ndarray]) -> dict[str, np.ndarray]:
        outputs: dict[str, np.ndarray] = {}
        for field in sig.outputs:
            if field.name not in raw:
                raise BadOutput(f"func_main.{sig.name} returned no {field.name!r} output (it returned {', '.join(map(str, raw)) or 'nothing'})")
            try:
                outputs[field.name] = decode(raw[field.name], field)
            except Mismatch as err:
                raise BadOutput(f"output {field.name} of func_main.{sig.name}: {err}") from None
        return outputs
