"""ML Lambda's Python model runtime: serves /model/files/src/func_main.py by the contract at
/model/contract.protobin over gRPC (tensorflow.serving.PredictionService/Predict) and HTTP/JSON
(Open Inference Protocol v2). One data plane (dataplane.py), two thin faces (grpc_face.py,
http_face.py), codecs driven by the contract (tensors.py, values.py, oip.py)."""
import time

STARTED = time.monotonic()  # start-up time is reported from here, before numpy and grpc are imported
