"""The failures a request can meet, each with the HTTP status and gRPC status code it is answered with."""


class RuntimeFault(Exception):
    http_status = 500
    grpc_code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(RuntimeFault):
    """The request does not fit the contract (names, dtype, shape, values): the caller must fix it."""
    http_status = 400
    grpc_code = "INVALID_ARGUMENT"


class UnknownModel(RuntimeFault):
    """HTTP: no model or signature by that name (gRPC answers INVALID_ARGUMENT for signatures, as Hydrosphere did)."""
    http_status = 404
    grpc_code = "NOT_FOUND"


class NotReady(RuntimeFault):
    http_status = 503
    grpc_code = "UNAVAILABLE"


class ModelFailed(RuntimeFault):
    """func_main's function raised."""
    http_status = 500
    grpc_code = "UNKNOWN"


class BadOutput(RuntimeFault):
    """func_main's function returned something the contract does not allow."""
    http_status = 500
    grpc_code = "INTERNAL"


class NotAResponse(BadOutput):
    """A 2018-convention function returned something other than a PredictResponse."""
    grpc_code = "OUT_OF_RANGE"


class Mismatch(ValueError):
    """A tensor or value does not fit its contract field; callers add which input or output it was."""
