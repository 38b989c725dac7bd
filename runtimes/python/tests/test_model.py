import importlib
import os
import sys
import tempfile
import unittest

from mll_runtime.contract import Signature
from mll_runtime.model import TENSORS, VALUES, LoadError, load_model

from .support import contract, field

SIG = Signature("tokenize", (field("text", "string", ()),), (field("tokens", "string", (-1,)),))


class LoadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        os.makedirs(os.path.join(self.dir.name, "files", "src"))
        self.saved_path = list(sys.path)

    def tearDown(self):
        sys.path[:] = self.saved_path
        sys.modules.pop("func_main", None)
        importlib.invalidate_caches()
        self.dir.cleanup()

    def write(self, source: str) -> None:
        with open(os.path.join(self.dir.name, "files", "src", "func_main.py"), "w") as f:
            f.write(source)

    def test_detects_the_calling_convention(self):
        self.write("def tokenize(text):\n    return {'tokens': text.split()}\n")
        model = load_model(self.dir.name, contract(SIG))
        self.assertEqual(model.convention, VALUES)
        self.assertEqual(model.functions["tokenize"]("a b"), {"tokens": ["a", "b"]})

    def test_a_func_main_using_hydro_serving_grpc_is_2018(self):
        self.write("import hydro_serving_grpc as hs\n\ndef tokenize(text):\n    return hs.PredictResponse()\n")
        self.assertEqual(load_model(self.dir.name, contract(SIG)).convention, TENSORS)
        sys.modules.pop("func_main", None)
        self.write("from hydro_serving_grpc import PredictResponse\n\ndef tokenize(text):\n    return PredictResponse()\n")
        self.assertEqual(load_model(self.dir.name, contract(SIG)).convention, TENSORS)

    def test_lib_and_src_go_first_on_sys_path(self):
        os.makedirs(os.path.join(self.dir.name, "lib"))
        self.write("def tokenize(text):\n    return {}\n")
        load_model(self.dir.name, contract(SIG))
        self.assertEqual(sys.path[:2], [os.path.join(self.dir.name, "files", "src"), os.path.join(self.dir.name, "lib")])

    def test_clear_errors(self):
        with self.assertRaisesRegex(LoadError, "func_main.py is missing"):
            load_model(self.dir.name, contract(SIG))
        self.write("def other(text):\n    return {}\n")
        with self.assertRaisesRegex(LoadError, "has no function 'tokenize'"):
            load_model(self.dir.name, contract(SIG))
        sys.modules.pop("func_main", None)
        self.write("def tokenize(words):\n    return {}\n")
        with self.assertRaisesRegex(LoadError, "takes no parameter 'text'"):
            load_model(self.dir.name, contract(SIG))
        sys.modules.pop("func_main", None)
        self.write("import no_such_package\n")
        with self.assertRaisesRegex(LoadError, "ModuleNotFoundError: No module named 'no_such_package'"):
            load_model(self.dir.name, contract(SIG))


if __name__ == "__main__":
    unittest.main()
