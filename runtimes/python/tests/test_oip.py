import unittest

import numpy as np

from mll_runtime.errors import Mismatch
from mll_runtime.oip import array_to_output, field_metadata, input_to_array

from .support import field

X = field("x", "float", (-1, 2))


class InputTest(unittest.TestCase):
    def test_flat_and_nested_data_give_the_same_array(self):
        flat = input_to_array({"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3, 4]}, X)
        nested = input_to_array({"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2], [3, 4]]}, X)
        np.testing.assert_array_equal(flat, nested)
        self.assertEqual(flat.dtype, np.float32)

    def test_datatype_shape_and_count_errors_say_what_is_expected(self):
        with self.assertRaisesRegex(Mismatch, "datatype is 'FP64' but the contract says FP32 \\(float\\)"):
            input_to_array({"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}, X)
        with self.assertRaisesRegex(Mismatch, r"expected shape \[-1, 2\] \(2 dims\), got \[2\]"):
            input_to_array({"name": "x", "datatype": "FP32", "shape": [2], "data": [1, 2]}, X)
        with self.assertRaisesRegex(Mismatch, r"shape \[2, 2\] holds 4 values, but 3 were sent"):
            input_to_array({"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3]}, X)
        with self.assertRaisesRegex(Mismatch, "shape must be a list"):
            input_to_array({"name": "x", "datatype": "FP32", "shape": [-1, 2], "data": [1, 2]}, X)

    def test_values_must_fit_the_datatype(self):
        n = field("n", "int8", (-1,))
        with self.assertRaisesRegex(Mismatch, "whole numbers"):
            input_to_array({"name": "n", "datatype": "INT8", "shape": [1], "data": [1.5]}, n)
        with self.assertRaisesRegex(Mismatch, "outside the range of INT8"):
            input_to_array({"name": "n", "datatype": "INT8", "shape": [1], "data": [128]}, n)
        with self.assertRaisesRegex(Mismatch, "numbers"):
            input_to_array({"name": "x", "datatype": "FP32", "shape": [1, 2], "data": ["a", 1]}, X)

    def test_bytes_are_json_strings_and_scalars_have_shape_empty(self):
        t = field("text", "string", ())
        arr = input_to_array({"name": "text", "datatype": "BYTES", "shape": [], "data": ["héllo"]}, t)
        self.assertEqual(arr.shape, ())
        self.assertEqual(arr.item(), "héllo".encode())

    def test_types_without_an_oip_datatype_point_to_grpc(self):
        with self.assertRaisesRegex(Mismatch, "gRPC"):
            input_to_array({"name": "c", "datatype": "FP32", "shape": [1], "data": [1]}, field("c", "complex64", (-1,)))


class OutputTest(unittest.TestCase):
    def test_outputs_are_flat_row_major(self):
        out = array_to_output(np.array([[1, 2], [3, 4]], dtype=np.float32), X)
        self.assertEqual(out, {"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1.0, 2.0, 3.0, 4.0]})

    def test_text_outputs_decode_and_binary_is_refused(self):
        s = field("s", "string", (-1,))
        arr = np.empty(1, dtype=object)
        arr[0] = b"ok"
        self.assertEqual(array_to_output(arr, s)["data"], ["ok"])
        arr[0] = b"\xff"
        with self.assertRaisesRegex(Mismatch, "not UTF-8"):
            array_to_output(arr, s)

    def test_metadata(self):
        self.assertEqual(field_metadata(X), {"name": "x", "datatype": "FP32", "shape": [-1, 2]})
        self.assertEqual(field_metadata(field("u", "float", None))["shape"], None)


if __name__ == "__main__":
    unittest.main()
