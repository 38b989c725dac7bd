"""Loads func_main.py and calls its functions, sync or async.

Calling convention: a func_main that imports anything from hydro_serving_grpc is a 2018 model (its
functions take TensorProto keyword arguments and return a PredictResponse); any other is a 2020 model
(values in, dict out). Both may define `async def` functions."""
import asyncio
import importlib
import inspect
import os
import sys
import threading
import traceback
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Coroutine

from .contract import Contract

TENSORS = "2018"  # TensorProto kwargs -> PredictResponse
VALUES = "2020"  # numpy / Python values -> dict


class LoadError(Exception):
    """func_main cannot serve the contract; the runtime exits with this message."""


@dataclass(frozen=True)
class Model:
    functions: dict[str, Callable[..., Any]]
    convention: str


def _from_hydro_protos(value: Any) -> bool:
    name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
    return isinstance(name, str) and (name == "hydro_serving_grpc" or name.startswith("hydro_serving_grpc."))


def calling_convention(module: ModuleType) -> str:
    return TENSORS if any(_from_hydro_protos(v) for v in vars(module).values()) else VALUES


def _check_parameters(name: str, fn: Callable[..., Any], inputs: list[str]) -> None:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return  # builtins and C callables: nothing to check
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    missing = [i for i in inputs if i not in names]
    if missing:
        raise LoadError(f"func_main.{name} takes no parameter {', '.join(repr(m) for m in missing)}, "
                        f"but the contract's signature {name} has that input; the function is called as {name}({', '.join(f'{i}=…' for i in inputs)})")
    required = [p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in inputs]
    if required:
        raise LoadError(f"func_main.{name} requires parameter {', '.join(repr(r) for r in required)}, which is not an input of the contract's signature {name}")


def load_model(model_dir: str, contract: Contract) -> Model:
    src, lib = os.path.join(model_dir, "files", "src"), os.path.join(model_dir, "lib")
    if not os.path.isfile(os.path.join(src, "func_main.py")):
        raise LoadError(f"{src}/func_main.py is missing: a Python model keeps its functions in src/func_main.py of its payload")
    for path in (lib, src):  # src first on sys.path, then the model's own packages, then the runtime's
        if os.path.isdir(path) and path not in sys.path:
            sys.path.insert(0, path)
    try:
        module = importlib.import_module("func_main")
    except BaseException as err:  # SyntaxError, ImportError, SystemExit from a script-like file, …
        detail = "".join(traceback.format_exception(err)).rstrip()
        raise LoadError(f"importing func_main.py failed: {type(err).__name__}: {err}\n{detail}") from err
    functions: dict[str, Callable[..., Any]] = {}
    problems: list[str] = []
    for sig in contract.signatures.values():
        fn = getattr(module, sig.name, None)
        if not callable(fn):
            problems.append(f"func_main.py has no function {sig.name!r} for the contract's signature {sig.name} "
                            f"(define def {sig.name}({', '.join(f.name for f in sig.inputs)}): …)")
            continue
        try:
            _check_parameters(sig.name, fn, [f.name for f in sig.inputs])
        except LoadError as err:
            problems.append(str(err))
        functions[sig.name] = fn
    if problems:
        raise LoadError("; ".join(problems))
    return Model(functions, calling_convention(module))


class AsyncRunner:
    """Runs coroutines of async def functions on one event loop in its own thread, so every request
    thread can wait on them and async functions share a loop (and whatever they cache on it)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="mll-async", daemon=True).start()
            return self._loop

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._get_loop()).result()


_runner = AsyncRunner()


def call(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    result = fn(**kwargs)
    if inspect.isawaitable(result):
        result = _runner.run(_awaited(result))
    return result


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
