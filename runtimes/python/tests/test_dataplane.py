import asyncio
import unittest

import numpy as np

import hydro_serving_grpc as hs
from mll_runtime.contract import Signature
from mll_runtime.dataplane import DataPlane
from mll_runtime.errors import BadOutput, InvalidInput, ModelFailed, NotAResponse, NotReady
from mll_runtime.model import TENSORS, VALUES, Model
from mll_runtime.oip import input_to_array

from .support import LINEAR, contract, field


def plane_with(convention: str, fn, sig: Signature = LINEAR) -> DataPlane:
    plane = DataPlane(contract(sig))
    plane.model = Model({sig.name: fn}, convention)
    return plane


def x(*values: float) -> dict[str, np.ndarray]:
    return {"x": np.array(values, dtype=np.float32)}


def linear_2018(x):
    y = [2 * v + 1 for v in x.float_val]
    return hs.PredictResponse(outputs={"y": hs.TensorProto(dtype=hs.DT_FLOAT, float_val=y, tensor_shape=hs.TensorShapeProto(dim=[hs.TensorShapeProto.Dim(size=len(y))]))})


class InferTest(unittest.TestCase):
    def test_2020_sync_and_async(self):
        async def linear_async(x):
            await asyncio.sleep(0)
            return {"y": x * 2 + 1}

        for fn in (lambda x: {"y": x * 2 + 1}, linear_async):
            out = plane_with(VALUES, fn).infer(LINEAR, x(1, 2, 3.5))
            np.testing.assert_array_equal(out["y"], [3, 5, 8])

    def test_2018_tensor_protos(self):
        out = plane_with(TENSORS, linear_2018).infer(LINEAR, x(1, 2, 3.5))
        np.testing.assert_array_equal(out["y"], [3, 5, 8])

    def test_2018_must_answer_a_predict_response(self):
        with self.assertRaises(NotAResponse) as caught:
            plane_with(TENSORS, lambda x: {"y": 1}).infer(LINEAR, x(1))
        self.assertEqual(caught.exception.grpc_code, "OUT_OF_RANGE")

    def test_bad_outputs_name_the_output(self):
        with self.assertRaisesRegex(BadOutput, "returned no 'y' output \\(it returned z\\)"):
            plane_with(VALUES, lambda x: {"z": 1}).infer(LINEAR, x(1))
        with self.assertRaisesRegex(BadOutput, "output y of func_main.predict: expected shape \\[-1\\]"):
            plane_with(VALUES, lambda x: {"y": 1.0}).infer(LINEAR, x(1))
        with self.assertRaisesRegex(BadOutput, "returned list; it must return a dict"):
            plane_with(VALUES, lambda x: [1]).infer(LINEAR, x(1))

    def test_exceptions_become_model_failures(self):
        def boom(x):
            raise ZeroDivisionError("no")

        with self.assertLogs("mll_runtime", "ERROR") as logs, self.assertRaisesRegex(ModelFailed, "func_main.predict raised ZeroDivisionError: no"):
            plane_with(VALUES, boom).infer(LINEAR, x(1))
        self.assertIn("Traceback", logs.output[0])

    def test_not_ready_until_loaded(self):
        with self.assertRaises(NotReady):
            DataPlane(contract(LINEAR)).infer(LINEAR, x(1))


class DecodeInputsTest(unittest.TestCase):
    sig = Signature("s", (field("a", "int64", ()), field("b", "string", (-1,))), (field("c", "int64", ()),))

    def test_unknown_and_missing_inputs_are_named(self):
        plane = DataPlane(contract(self.sig))
        a = {"name": "a", "datatype": "INT64", "shape": [], "data": [1]}
        with self.assertRaisesRegex(InvalidInput, "unknown input 'z': signature s takes a, b"):
            plane.decode_inputs(self.sig, {"a": a, "z": a}, input_to_array)
        with self.assertRaisesRegex(InvalidInput, "missing input 'b'"):
            plane.decode_inputs(self.sig, {"a": a}, input_to_array)
        with self.assertRaisesRegex(InvalidInput, "^input a: datatype is 'FP32'"):
            plane.decode_inputs(self.sig, {"a": {**a, "datatype": "FP32"}, "b": a}, input_to_array)


if __name__ == "__main__":
    unittest.main()
