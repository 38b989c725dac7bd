"""Hydrosphere's protobuf messages, as 2018-era func_main.py files use them: `import hydro_serving_grpc as hs`
gives hs.PredictResponse, hs.TensorProto, hs.TensorShapeProto, hs.DT_FLOAT, … The *_pb2 modules next to
this file are generated from runtimes/python/protos by gen-protos.sh."""
from hydro_serving_grpc.contract_pb2 import DataProfileType, ModelContract, ModelField, ModelSignature
from hydro_serving_grpc.predict_pb2 import ModelSpec, PredictRequest, PredictResponse
from hydro_serving_grpc.tensor_pb2 import TensorProto
from hydro_serving_grpc.tensor_shape_pb2 import TensorShapeProto
from hydro_serving_grpc.types_pb2 import DataType

globals().update(DataType.items())  # DT_INVALID, DT_FLOAT, … as module constants

__all__ = [
    "DataProfileType", "DataType", "ModelContract", "ModelField", "ModelSignature", "ModelSpec",
    "PredictRequest", "PredictResponse", "TensorProto", "TensorShapeProto", *DataType.keys(),
]
