"""TF-Serving's gRPC API: PredictionService and ModelService over one channel."""

from kclass.export.signatures import fill_model_spec, predict_request
from kclass.serving_client.client import Client, signature_dict, tensor_to_array, text_outputs
from kclass.serving_client.endpoint import Endpoint
from kclass.serving_client.errors import ServingError, ServingTimeout, ServingUnavailable, clean_message


class GrpcClient(Client):
    """PredictionService.Predict / GetModelMetadata and ModelService.GetModelStatus over one channel."""

    def __init__(self, endpoint: Endpoint, timeout: float = 30.0, retries: int = 2, backoff: float = 0.2,
                 max_message_mb: int = 256):
        super().__init__(endpoint, timeout, retries, backoff)
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        limit = max_message_mb * 1024 * 1024
        self._grpc = grpc
        self._channel = grpc.insecure_channel(f"{endpoint.host}:{endpoint.port}", options=[
            ("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)])
        self._predict_stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._model_stub = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def _call(self, method, request, what):
        try:
            return method(request, timeout=self.timeout)
        except self._grpc.RpcError as e:
            code = e.code().name if e.code() else "UNKNOWN"
            details = clean_message(e.details() or "")
            where = f"{self.endpoint.url} {what}"
            if code == "UNAVAILABLE":
                reason = "connection refused" if "refused" in details.lower() else details
                raise ServingUnavailable(where, code, f"cannot reach TF-Serving ({reason}); is it running "
                                                      f"with --port={self.endpoint.port}?") from None
            if code == "DEADLINE_EXCEEDED":
                raise ServingTimeout(where, code, f"no answer within {self.timeout:g}s") from None
            raise ServingError(where, code, details) from None

    def _predict(self, inputs, signature):
        e = self.endpoint
        request = predict_request(e.model, inputs, signature, e.version, e.label)
        response = self._call(self._predict_stub.Predict, request, "Predict")
        return {name: text_outputs(name, tensor_to_array(t)) for name, t in response.outputs.items()}

    def _status(self):
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        fill_model_spec(request.model_spec, self.endpoint.model, None, self.endpoint.version, self.endpoint.label)
        response = self._call(self._model_stub.GetModelStatus, request, "GetModelStatus")
        state = get_model_status_pb2.ModelVersionStatus.State.Name
        return [{"version": int(s.version), "state": state(s.state),
                 "error_code": _code_name(s.status.error_code), "error_message": s.status.error_message}
                for s in response.model_version_status]

    def _metadata(self):
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        fill_model_spec(request.model_spec, self.endpoint.model, None, self.endpoint.version, self.endpoint.label)
        response = self._call(self._predict_stub.GetModelMetadata, request, "GetModelMetadata")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return signature_dict(json_format.MessageToDict(signature_map, preserving_proto_field_name=True))

    def close(self):
        self._channel.close()


def _code_name(value) -> str:
    import grpc
    for code in grpc.StatusCode:
        if code.value[0] == int(value):
            return code.name
    return str(value)
