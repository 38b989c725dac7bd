import unittest

import numpy as np

import hydro_serving_grpc as hs
from mll_runtime.errors import Mismatch
from mll_runtime.tensors import array_to_tensor, tensor_to_array

from .support import field

# RUNTIME.md's verified request: linear, signature predict, x = [1, 2, 3.5].
REQUEST = bytes.fromhex("0a110a066c696e6561721a0770726564696374121b0a0178121608011204120208032a0c0000803f0000004000006040")


def tensor(dtype: int, dims: list[int], **values) -> hs.TensorProto:
    return hs.TensorProto(dtype=dtype, tensor_shape=hs.TensorShapeProto(dim=[hs.TensorShapeProto.Dim(size=d) for d in dims]), **values)


class DecodeTest(unittest.TestCase):
    def test_the_protocol_example_decodes(self):
        req = hs.PredictRequest.FromString(REQUEST)
        self.assertEqual(req.model_spec.signature_name, "predict")
        arr = tensor_to_array(req.inputs["x"], field("x", "float", (-1,)))
        self.assertEqual(arr.dtype, np.float32)
        np.testing.assert_array_equal(arr, [1, 2, 3.5])

    def test_tensor_content_is_little_endian_raw_values(self):
        t = tensor(hs.DT_INT64, [2, 2], tensor_content=np.array([1, 2, 3, 4], dtype="<i8").tobytes())
        np.testing.assert_array_equal(tensor_to_array(t, field("a", "int64", (-1, 2))), [[1, 2], [3, 4]])

    def test_wrong_dtype_names_both_types(self):
        with self.assertRaisesRegex(Mismatch, "dtype is DT_DOUBLE but the contract says DT_FLOAT"):
            tensor_to_array(tensor(hs.DT_DOUBLE, [1], double_val=[1.0]), field("x", "float", (-1,)))

    def test_shape_rank_and_fixed_dims_are_checked(self):
        f = field("x", "float", (-1, 2))
        with self.assertRaisesRegex(Mismatch, r"expected shape \[-1, 2\] \(2 dims\), got \[4\]"):
            tensor_to_array(tensor(hs.DT_FLOAT, [4], float_val=[1, 2, 3, 4]), f)
        with self.assertRaisesRegex(Mismatch, r"dim 1 is 1 but the contract says 2"):
            tensor_to_array(tensor(hs.DT_FLOAT, [4, 1], float_val=[1, 2, 3, 4]), f)
        self.assertEqual(tensor_to_array(tensor(hs.DT_FLOAT, [0, 2]), f).shape, (0, 2))

    def test_scalars_are_tensors_without_dims(self):
        f = field("t", "string", ())
        self.assertEqual(tensor_to_array(tensor(hs.DT_STRING, [], string_val=[b"hi"]), f).item(), b"hi")
        with self.assertRaisesRegex(Mismatch, r"expected a scalar \(shape \[\]\), got shape \[1\]"):
            tensor_to_array(tensor(hs.DT_STRING, [1], string_val=[b"hi"]), f)

    def test_value_count_must_fill_the_shape(self):
        with self.assertRaisesRegex(Mismatch, r"shape \[3\] holds 3 values, but 2 were sent"):
            tensor_to_array(tensor(hs.DT_FLOAT, [3], float_val=[1, 2]), field("x", "float", (-1,)))

    def test_negative_sizes_and_out_of_range_ints_are_refused(self):
        with self.assertRaisesRegex(Mismatch, "unknown size"):
            tensor_to_array(tensor(hs.DT_FLOAT, [-1], float_val=[1]), field("x", "float", (-1,)))
        with self.assertRaisesRegex(Mismatch, r"outside the range of uint8 \(0\.\.255\)"):
            tensor_to_array(tensor(hs.DT_UINT8, [2], int_val=[1, 300]), field("b", "uint8", (-1,)))

    def test_half_and_complex_values(self):
        half = np.array([1.5, -2], dtype=np.float16)
        t = tensor(hs.DT_HALF, [2], half_val=half.view(np.uint16).astype(int).tolist())
        np.testing.assert_array_equal(tensor_to_array(t, field("h", "half", (2,))), half)
        c = tensor(hs.DT_COMPLEX64, [1], scomplex_val=[1, 2])
        self.assertEqual(tensor_to_array(c, field("c", "complex64", (1,)))[0], 1 + 2j)
        with self.assertRaisesRegex(Mismatch, "pairs"):
            tensor_to_array(tensor(hs.DT_COMPLEX64, [1], scomplex_val=[1]), field("c", "complex64", (1,)))


class EncodeTest(unittest.TestCase):
    def test_the_protocol_example_answer_bytes(self):
        out = hs.PredictResponse()
        out.outputs["y"].CopyFrom(array_to_tensor(np.array([3, 5, 8], dtype=np.float32), field("y", "float", (-1,))))
        self.assertEqual(out.SerializeToString().hex(), "0a1b0a0179121608011204120208032a0c000040400000a04000000041")

    def test_every_dtype_round_trips(self):
        cases = {
            "float": [1.5, 2], "double": [1e300, -1], "int32": [-5, 7], "uint8": [0, 255], "int16": [-3, 3], "int8": [-128, 127],
            "int64": [2**62, -1], "bool": [True, False], "uint16": [65535, 1], "half": [0.5, 2], "uint32": [2**32 - 1, 0],
            "uint64": [2**64 - 1, 3], "complex64": [1 + 2j, 3], "complex128": [1j, -2], "qint8": [-1, 1],
        }
        for name, values in cases.items():
            with self.subTest(dtype=name):
                f = field("v", name, (-1,))
                arr = np.array(values, dtype=f.dtype.numpy)
                back = tensor_to_array(hs.TensorProto.FromString(array_to_tensor(arr, f).SerializeToString()), f)
                self.assertEqual(back.dtype, f.dtype.numpy)
                np.testing.assert_array_equal(back, arr)

    def test_strings_and_scalars(self):
        f = field("s", "string", ())
        arr = np.empty((), dtype=object)
        arr[()] = b"tok"
        t = array_to_tensor(arr, f)
        self.assertTrue(t.HasField("tensor_shape"))
        self.assertEqual(list(t.tensor_shape.dim), [])
        self.assertEqual(list(t.string_val), [b"tok"])


if __name__ == "__main__":
    unittest.main()
