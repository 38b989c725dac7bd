"""Start-up and shutdown: read the settings and the contract, open both faces, import func_main in the
background (GET /v2/health/ready answers 200 once it is imported), stop gracefully on SIGTERM/SIGINT."""
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Mapping

from . import STARTED
from .contract import ContractError, load_contract
from .dataplane import DataPlane
from .grpc_face import start_grpc
from .http_face import start_http
from .model import LoadError, load_model

log = logging.getLogger("mll_runtime")


@dataclass(frozen=True)
class Settings:
    grpc_port: int
    http_port: int
    model_dir: str
    workers: int
    grace_seconds: float

    @staticmethod
    def from_env(env: Mapping[str, str]) -> "Settings":
        def number(name: str, default: str, low: float, high: float, kind: type = int) -> float:
            raw = env.get(name) or default
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a number") from None
            if not low <= value <= high:
                raise ValueError(f"{name}={raw} is out of range ({low}..{high})")
            return value

        return Settings(
            grpc_port=int(number("APP_PORT", "9090", 1, 65535)),
            http_port=int(number("HTTP_PORT", "9091", 1, 65535)),
            model_dir=env.get("MODEL_DIR") or "/model",
            workers=int(number("MAX_WORKERS", "8", 1, 1024)),
            grace_seconds=number("SHUTDOWN_GRACE_SECONDS", "5", 0, 3600, float),
        )


def main() -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), stream=sys.stderr,
                        format="%(asctime)s mll-runtime %(levelname)s %(message)s")
    try:
        settings = Settings.from_env(os.environ)
        contract = load_contract(os.path.join(settings.model_dir, "contract.protobin"))
    except (ValueError, ContractError) as err:
        log.error("cannot start: %s", err)
        return 2
    plane = DataPlane(contract)
    grpc_server, grpc_port = start_grpc(plane, settings.grpc_port, settings.workers)
    http_server = start_http(plane, settings.http_port)
    stop = threading.Event()
    outcome = {"code": 0}
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda num, _frame: (log.info("%s: stopping", signal.Signals(num).name), stop.set()))

    def load() -> None:
        try:
            plane.model = load_model(settings.model_dir, contract)
        except LoadError as err:
            log.error("cannot serve the model: %s", err)
            outcome["code"] = 1
            stop.set()
            return
        log.info("ready in %.0f ms: model %s, signatures %s (%s calling convention); gRPC on :%d, HTTP on :%d",
                 (time.monotonic() - STARTED) * 1000, contract.model_name or "(unnamed)", ", ".join(plane.signature_names()),
                 plane.model.convention, grpc_port, settings.http_port)

    threading.Thread(target=load, name="load", daemon=True).start()
    stop.wait()
    plane.stopping = True  # readiness goes down first, so balancers stop sending
    done = grpc_server.stop(settings.grace_seconds)
    http_server.shutdown()
    http_server.wait_idle(settings.grace_seconds)
    done.wait(settings.grace_seconds)
    http_server.server_close()
    log.info("stopped")
    return outcome["code"]
