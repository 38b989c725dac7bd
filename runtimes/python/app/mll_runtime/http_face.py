"""The HTTP/JSON face in the Open Inference Protocol (v2) shape. A model name is a signature of the
contract, or the contract's model name with {"parameters": {"signature": …}} (optional when there is one)."""
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from .contract import Signature
from .dataplane import DataPlane
from .errors import BadOutput, InvalidInput, Mismatch, RuntimeFault, UnknownModel
from .oip import array_to_output, input_to_array, signature_metadata

log = logging.getLogger("mll_runtime")
BODY_LIMIT = 256 * 1024 * 1024


class HttpError(RuntimeFault):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.http_status = status


class RuntimeHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, plane: DataPlane) -> None:
        super().__init__(("0.0.0.0", port), Handler)
        self.plane = plane
        self.busy = 0
        self.idle = threading.Condition()

    def wait_idle(self, timeout: float) -> None:
        with self.idle:
            self.idle.wait_for(lambda: self.busy == 0, timeout)


def resolve(plane: DataPlane, name: str, requested: Any) -> Signature:
    if requested is not None and not isinstance(requested, str):
        raise InvalidInput("parameters.signature must be a string")
    names = ", ".join(plane.signature_names())
    sig = plane.signature(name)
    if sig is not None:
        if requested not in (None, name):
            raise InvalidInput(f"model {name} is the signature {name}; to call {requested}, POST to /v2/models/{requested}/infer")
        return sig
    if name != plane.contract.model_name:
        raise UnknownModel(f"no model {name!r} here; this runtime serves {plane.contract.model_name} with the signatures {names}")
    if requested is not None:
        chosen = plane.signature(requested)
        if chosen is None:
            raise InvalidInput(f"{requested} signature is not present in the model (it has: {names})")
        return chosen
    if len(plane.contract.signatures) == 1:
        return next(iter(plane.contract.signatures.values()))
    raise InvalidInput(f"model {name} has several signatures ({names}); name one with "
                       '"parameters": {"signature": "…"} or POST to /v2/models/<signature>/infer')


def infer(plane: DataPlane, name: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object with \"inputs\"")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidInput("parameters must be an object")
    sig = resolve(plane, name, params.get("signature"))
    items = body.get("inputs")
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        raise InvalidInput("inputs must be a list of tensors, each {\"name\", \"shape\", \"datatype\", \"data\"}")
    raw: dict[str, dict[str, Any]] = {}
    for item in items:
        if item["name"] in raw:
            raise InvalidInput(f"input {item['name']!r} is given twice")
        raw[item["name"]] = item
    wanted = _requested_outputs(sig, body.get("outputs"))
    outputs = plane.infer(sig, plane.decode_inputs(sig, raw, input_to_array))
    answer: dict[str, Any] = {"model_name": name, "parameters": {"signature": sig.name}, "outputs": []}
    if isinstance(body.get("id"), str):
        answer["id"] = body["id"]
    for field in sig.outputs:
        if field.name in wanted:
            try:
                answer["outputs"].append(array_to_output(outputs[field.name], field))
            except Mismatch as err:
                raise BadOutput(f"output {field.name} of func_main.{sig.name}: {err}") from None
    return answer


def _requested_outputs(sig: Signature, requested: Any) -> set[str]:
    every = {f.name for f in sig.outputs}
    if requested is None:
        return every
    if not isinstance(requested, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested):
        raise InvalidInput("outputs must be a list of {\"name\": …}")
    names = {o["name"] for o in requested}
    unknown = sorted(names - every)
    if unknown:
        raise InvalidInput(f"unknown output {unknown[0]!r}: signature {sig.name} gives {', '.join(f.name for f in sig.outputs)}")
    return names


def metadata(plane: DataPlane, name: str) -> dict[str, Any]:
    sig = plane.signature(name)
    if sig is None and name == plane.contract.model_name and len(plane.contract.signatures) == 1:
        sig = next(iter(plane.contract.signatures.values()))
    if sig is not None:
        return signature_metadata(name, sig, plane.contract.model_name)
    if name != plane.contract.model_name:
        raise UnknownModel(f"no model {name!r} here; this runtime serves {plane.contract.model_name} with the signatures {', '.join(plane.signature_names())}")
    return {"name": name, "versions": [], "platform": "mll-python", "inputs": [], "outputs": [],
            "parameters": {"signatures": plane.signature_names()}}


class Handler(BaseHTTPRequestHandler):
    server: RuntimeHttpServer
    server_version = "mll-runtime"
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection is closed after this

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s", format % args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        with self.server.idle:
            self.server.busy += 1
        try:
            try:
                status, body = self._route(method, [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")])
            except RuntimeFault as fault:
                status, body = fault.http_status, {"error": fault.message}
            except Exception as err:
                log.exception("HTTP %s %s failed", method, self.path)
                status, body = 500, {"error": f"internal error: {type(err).__name__}: {err}"}
            self._send(status, body)
        finally:
            with self.server.idle:
                self.server.busy -= 1
                self.server.idle.notify_all()

    def _route(self, method: str, parts: list[str]) -> tuple[int, Any]:
        plane = self.server.plane
        if parts == ["v2", "health", "live"] and method == "GET":
            return 200, {"live": True}
        if parts == ["v2", "health", "ready"] and method == "GET":
            return (200 if plane.ready else 503), {"ready": plane.ready}
        if parts == ["v2"] and method == "GET":
            return 200, {"name": "mll-python-runtime", "version": "1", "extensions": []}
        if len(parts) >= 3 and parts[:2] == ["v2", "models"]:
            name, rest = parts[2], parts[3:]
            if rest == [] and method == "GET":
                return 200, metadata(plane, name)
            if rest == ["ready"] and method == "GET":
                metadata(plane, name)
                return (200 if plane.ready else 503), {"name": name, "ready": plane.ready}
            if rest == ["infer"] and method == "POST":
                return 200, infer(plane, name, self._json_body())
            if rest in ([], ["ready"], ["infer"]):
                raise HttpError(405, f"{method} is not allowed on {self.path}")
        raise HttpError(404, f"no route {method} {self.path}; see /v2/health/ready, /v2/models/<name>, /v2/models/<name>/infer")

    def _json_body(self) -> Any:
        length = self.headers.get("content-length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise HttpError(411, "send the body with a Content-Length")
        if int(length) > BODY_LIMIT:
            self.close_connection = True
            raise HttpError(413, f"the body has {length} bytes; the limit is {BODY_LIMIT} (256 MiB)")
        data = self.rfile.read(int(length))
        try:
            return json.loads(data)
        except ValueError as err:
            raise InvalidInput(f"the body is not valid JSON: {err}") from None

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data)


def start_http(plane: DataPlane, port: int) -> RuntimeHttpServer:
    server = RuntimeHttpServer(port, plane)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="http", daemon=True).start()
    return server
