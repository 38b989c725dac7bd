import unittest

from mll_runtime.contract import Signature
from mll_runtime.dataplane import DataPlane
from mll_runtime.errors import InvalidInput, UnknownModel
from mll_runtime.http_face import metadata, resolve

from .support import LINEAR, contract, field

COUNT = Signature("count", (field("text", "string", ()),), (field("n", "int64", ()),))


class ResolveTest(unittest.TestCase):
    def test_a_signature_is_a_model_and_the_model_name_needs_one_when_there_are_several(self):
        plane = DataPlane(contract(LINEAR, COUNT, model_name="lin"))
        self.assertIs(resolve(plane, "count", None), COUNT)
        self.assertIs(resolve(plane, "lin", "predict"), LINEAR)
        with self.assertRaisesRegex(InvalidInput, "several signatures \\(count, predict\\)"):
            resolve(plane, "lin", None)
        with self.assertRaisesRegex(InvalidInput, "nope signature is not present in the model"):
            resolve(plane, "lin", "nope")
        with self.assertRaisesRegex(UnknownModel, "no model 'other' here"):
            resolve(plane, "other", None)
        with self.assertRaisesRegex(InvalidInput, "POST to /v2/models/predict/infer"):
            resolve(plane, "count", "predict")

    def test_one_signature_is_the_default(self):
        plane = DataPlane(contract(LINEAR, model_name="lin"))
        self.assertIs(resolve(plane, "lin", None), LINEAR)
        self.assertEqual(metadata(plane, "lin")["inputs"], [{"name": "x", "datatype": "FP32", "shape": [-1]}])


if __name__ == "__main__":
    unittest.main()
