import unittest

import numpy as np

from mll_runtime.errors import Mismatch
from mll_runtime.values import from_user_value, to_user_value

from .support import field


def strings(*items: bytes) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out


class ToUserTest(unittest.TestCase):
    def test_scalars_become_python_values(self):
        scalar = np.empty((), dtype=object)
        scalar[()] = "héllo".encode()
        self.assertEqual(to_user_value(scalar, field("t", "string", ())), "héllo")
        self.assertEqual(to_user_value(np.array(3, dtype=np.int64), field("n", "int64", ())), 3)
        self.assertIsInstance(to_user_value(np.array(3, dtype=np.int64), field("n", "int64", ())), int)

    def test_string_arrays_hold_text_and_binary_stays_bytes(self):
        self.assertEqual(to_user_value(strings(b"a", b"b"), field("s", "string", (-1,))).tolist(), ["a", "b"])
        self.assertEqual(to_user_value(strings(b"\xff"), field("s", "string", (-1,))).tolist(), [b"\xff"])

    def test_numeric_arrays_stay_arrays(self):
        arr = np.array([1, 2], dtype=np.float32)
        self.assertIs(to_user_value(arr, field("x", "float", (-1,))), arr)


class FromUserTest(unittest.TestCase):
    def test_lists_of_text_become_string_tensors(self):
        out = from_user_value(["a", b"b"], field("tokens", "string", (-1,)))
        self.assertEqual(out.tolist(), [b"a", b"b"])
        self.assertEqual(from_user_value("x", field("t", "string", ())).shape, ())

    def test_numbers_are_cast_to_the_field_type(self):
        out = from_user_value([1, 2.5], field("y", "float", (-1,)))
        self.assertEqual(out.dtype, np.float32)
        self.assertEqual(from_user_value(7, field("n", "int64", ())).dtype, np.int64)

    def test_wrong_kinds_are_refused(self):
        with self.assertRaisesRegex(Mismatch, "float64 values where the contract says int64"):
            from_user_value([1.5], field("n", "int64", (-1,)))
        with self.assertRaisesRegex(Mismatch, "bool values where the contract says float"):
            from_user_value([True], field("y", "float", (-1,)))
        with self.assertRaisesRegex(Mismatch, "holds a int where the contract says string"):
            from_user_value([1], field("s", "string", (-1,)))
        with self.assertRaisesRegex(Mismatch, "outside the range of int8"):
            from_user_value([200], field("b", "int8", (-1,)))

    def test_shapes_are_checked(self):
        with self.assertRaisesRegex(Mismatch, r"expected a scalar"):
            from_user_value([1], field("n", "int64", ()))
        with self.assertRaisesRegex(Mismatch, r"dim 1 is 3 but the contract says 2"):
            from_user_value([[1, 2, 3]], field("m", "double", (-1, 2)))


if __name__ == "__main__":
    unittest.main()
