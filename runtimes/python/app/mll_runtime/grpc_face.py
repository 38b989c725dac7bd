"""The gRPC face: tensorflow.serving.PredictionService/Predict, plaintext, 256 MiB messages."""
import logging
from concurrent.futures import ThreadPoolExecutor

import grpc

from hydro_serving_grpc.predict_pb2 import PredictRequest, PredictResponse
from hydro_serving_grpc.prediction_service_pb2_grpc import PredictionServiceServicer, add_PredictionServiceServicer_to_server

from .dataplane import DataPlane
from .errors import InvalidInput, RuntimeFault
from .tensors import array_to_tensor, tensor_to_array

log = logging.getLogger("mll_runtime")
MESSAGE_LIMIT = 256 * 1024 * 1024


class PredictionService(PredictionServiceServicer):
    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane

    def Predict(self, request: PredictRequest, context: grpc.ServicerContext) -> PredictResponse:
        try:
            return self._predict(request)
        except RuntimeFault as fault:
            context.abort(getattr(grpc.StatusCode, fault.grpc_code), fault.message)
        except Exception as err:
            log.exception("Predict failed")
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(err).__name__}: {err}")
        raise AssertionError("context.abort returned")

    def _predict(self, request: PredictRequest) -> PredictResponse:
        name = request.model_spec.signature_name
        sig = self.plane.signature(name)
        if sig is None:
            raise InvalidInput(f"{name} signature is not present in the model (it has: {', '.join(self.plane.signature_names())})")
        outputs = self.plane.infer(sig, self.plane.decode_inputs(sig, request.inputs, tensor_to_array))
        fields = {f.name: f for f in sig.outputs}
        response = PredictResponse()
        for out_name, arr in outputs.items():
            response.outputs[out_name].CopyFrom(array_to_tensor(arr, fields[out_name]))
        return response


def start_grpc(plane: DataPlane, port: int, workers: int) -> tuple[grpc.Server, int]:
    server = grpc.server(
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        options=[("grpc.max_receive_message_length", MESSAGE_LIMIT), ("grpc.max_send_message_length", MESSAGE_LIMIT)],
    )
    add_PredictionServiceServicer_to_server(PredictionService(plane), server)
    bound = 0
    for host in ("[::]", "0.0.0.0"):  # IPv6 may be off inside a container
        try:
            bound = server.add_insecure_port(f"{host}:{port}")
        except RuntimeError:
            bound = 0
        if bound:
            break
    if not bound:
        raise OSError(f"cannot listen for gRPC on port {port} (APP_PORT)")
    server.start()
    return server, bound
