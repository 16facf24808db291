"""TF-Serving client (gRPC and REST) for models `python -m kclass.export` wrote.

    client = serving_client.connect("grpc://127.0.0.1:8500/demo")   # or http://127.0.0.1:8501/demo
    outputs = client.predict([open("cat.jpg", "rb").read()])     # {"probabilities": [N, C], ...}

URLs: `grpc://HOST[:8500]/NAME` or `http://HOST[:8501]/NAME`, optionally followed by `/versions/N` or
`/labels/LABEL`. Both clients return outputs as numpy arrays (text as `str`), are safe to share between
threads, time out every call and retry only what is safe to retry (connection refused, UNAVAILABLE).
Every failure is a `ServingError` (a UserError: the CLIs print it as one line) carrying the gRPC
status name (`code`) and, over REST, the HTTP status.
"""

import base64
import dataclasses
import http.client
import json
import re
import socket
import threading
import time
from typing import Dict, List, Optional
from urllib.parse import urlsplit

import numpy as np

from kclass.errors import UserError
from kclass.export.signatures import INPUT_NAME, SERVING_SIGNATURE, fill_model_spec, predict_request

DEFAULT_PORTS = {"grpc": 8500, "http": 8501, "https": 8501}

# TF-Serving's REST status for each canonical error code (model_servers/http_server.cc).
CODE_TO_HTTP = {"OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504,
                "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429,
                "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501,
                "INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500, "UNAUTHENTICATED": 401}
HTTP_TO_CODE = {}
for _code, _status in CODE_TO_HTTP.items():
    HTTP_TO_CODE.setdefault(_status, _code)  # 400 -> INVALID_ARGUMENT, 500 -> UNKNOWN, ...


class ServingError(UserError):
    """A call to TF-Serving failed. `code`: gRPC status name; `http_status`: REST status or None."""

    def __init__(self, where: str, code: str, message: str, http_status: Optional[int] = None):
        self.where, self.code, self.message, self.http_status = where, code, message, http_status
        status = f"{code} ({http_status})" if http_status else code
        super().__init__(f"{where}: {status}: {message}")


class ServingUnavailable(ServingError):
    """Nothing answers at the address (connection refused, host unreachable, server UNAVAILABLE)."""


class ServingTimeout(ServingError):
    """No answer within the client's timeout."""


def clean_message(message: str) -> str:
    """TF's runtime error text -> one line: drops `{{function_node ...}}` and the node trace."""
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(message))
    message = message.split("\n\t [[")[0].split("\n\t[[")[0]
    message = " ".join(message.split())
    return message[:500] + (" ..." if len(message) > 500 else "")


@dataclasses.dataclass
class Endpoint:
    """A parsed server URL: protocol `grpc`/`http`/`https`, host, port, model and version or label."""
    protocol: str
    host: str
    port: int
    model: str
    version: Optional[int] = None
    label: Optional[str] = None

    @property
    def url(self):
        suffix = f"/versions/{self.version}" if self.version else f"/labels/{self.label}" if self.label else ""
        return f"{self.protocol}://{self.host}:{self.port}/{self.model}{suffix}"


def parse_url(url: str) -> Endpoint:
    """`grpc://HOST[:PORT]/NAME[/versions/N|/labels/L]` (also http(s)://, and REST's /v1/models/NAME)."""
    parts = urlsplit(url)
    protocol = parts.scheme.lower()
    if protocol not in DEFAULT_PORTS or not parts.hostname:
        raise UserError(f"--server {url!r}: expected grpc://HOST:8500/MODEL or http://HOST:8501/MODEL")
    path = [p for p in parts.path.split("/") if p]
    if path[:2] == ["v1", "models"]:
        path = path[2:]
    version = label = None
    if len(path) == 3 and path[1] == "versions" and path[2].isdigit():
        version = int(path[2])
    elif len(path) == 3 and path[1] == "labels":
        label = path[2]
    elif len(path) != 1:
        raise UserError(f"--server {url!r}: the path must be /MODEL, /MODEL/versions/N or /MODEL/labels/LABEL")
    try:
        port = parts.port or DEFAULT_PORTS[protocol]
    except ValueError:
        raise UserError(f"--server {url!r}: bad port") from None
    return Endpoint(protocol, parts.hostname, port, path[0], version, label)


def tensor_to_array(proto) -> np.ndarray:
    """TensorProto -> numpy; DT_STRING becomes an object array of bytes."""
    import tensorflow as tf
    return tf.make_ndarray(proto)


def _text(name: str, array: np.ndarray) -> np.ndarray:
    """Strings as `str`, except outputs named `*_bytes` (binary, as TF-Serving's REST API has it)."""
    if array.dtype == object and not name.endswith("_bytes"):
        return np.vectorize(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v,
                            otypes=[object])(array) if array.size else array
    return array


# ---- clients ----

class Client:
    """Shared by both protocols: retries with exponential backoff on UNAVAILABLE only."""

    def __init__(self, endpoint: Endpoint, timeout: float = 30.0, retries: int = 2, backoff: float = 0.2):
        self.endpoint, self.timeout, self.retries, self.backoff = endpoint, float(timeout), int(retries), backoff

    def _with_retries(self, call):
        for attempt in range(self.retries + 1):
            try:
                return call()
            except ServingUnavailable:
                if attempt == self.retries:
                    raise
                time.sleep(min(self.backoff * 2 ** attempt, 5.0))

    def predict(self, images: List[bytes], signature: str = SERVING_SIGNATURE) -> Dict[str, np.ndarray]:
        """Encoded images -> the signature's outputs, e.g. probabilities float32 [N, C]."""
        return self.predict_tensors({INPUT_NAME: np.array(list(images), dtype=object)}, signature)

    def predict_tensors(self, inputs: Dict[str, np.ndarray], signature: str = SERVING_SIGNATURE):
        return self._with_retries(lambda: self._predict(inputs, signature))

    def status(self) -> List[dict]:
        """[{"version": int, "state": "AVAILABLE", "error_code": "OK", "error_message": ""}, ...]."""
        return self._with_retries(self._status)

    def metadata(self) -> Dict[str, dict]:
        """signature name -> {"inputs"/"outputs": {name: {"dtype": "DT_FLOAT", "shape": [-1, ...]}}}."""
        return self._with_retries(self._metadata)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _signature_dict(signature_def_map: dict) -> Dict[str, dict]:
    """SignatureDefMap as JSON (proto field names) -> the compact form `Client.metadata` returns."""
    def tensors(infos):
        out = {}
        for name, info in (infos or {}).items():
            shape = info.get("tensor_shape", {})
            dims = None if shape.get("unknown_rank") else [int(d.get("size", -1)) for d in shape.get("dim", [])]
            out[name] = {"dtype": info.get("dtype", "DT_INVALID"), "shape": dims}
        return out
    return {name: {"inputs": tensors(sig.get("inputs")), "outputs": tensors(sig.get("outputs")),
                   "method_name": sig.get("method_name", "")}
            for name, sig in signature_def_map.get("signature_def", {}).items()}


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
        return {name: _text(name, tensor_to_array(t)) for name, t in response.outputs.items()}

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
        return _signature_dict(json_format.MessageToDict(signature_map, preserving_proto_field_name=True))

    def close(self):
        self._channel.close()


def _code_name(value) -> str:
    import grpc
    for code in grpc.StatusCode:
        if code.value[0] == int(value):
            return code.name
    return str(value)


class RestClient(Client):
    """TF-Serving's REST API; one keep-alive connection per thread. `row_format` picks `instances`
    (rows) over `inputs` (columns) in predict requests."""

    def __init__(self, endpoint: Endpoint, timeout: float = 30.0, retries: int = 2, backoff: float = 0.2,
                 row_format: bool = False):
        super().__init__(endpoint, timeout, retries, backoff)
        self.row_format = row_format
        self._local = threading.local()
        self._single_output = {}
        e = endpoint
        suffix = f"/versions/{e.version}" if e.version else f"/labels/{e.label}" if e.label else ""
        self._path = f"/v1/models/{e.model}{suffix}"
        self._root = f"{e.protocol}://{e.host}:{e.port}"

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.endpoint.protocol == "https" else http.client.HTTPConnection
            conn = self._local.conn = cls(self.endpoint.host, self.endpoint.port, timeout=self.timeout)
        return conn

    def _drop_connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _request(self, method, path, body=None):
        url = self._root + path
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for fresh_try in (0, 1):
            reused = getattr(self._local, "conn", None) is not None
            conn = self._connection()
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (socket.timeout, TimeoutError):
                self._drop_connection()
                raise ServingTimeout(url, "DEADLINE_EXCEEDED", f"no answer within {self.timeout:g}s") from None
            except ConnectionRefusedError:
                self._drop_connection()
                raise ServingUnavailable(url, "UNAVAILABLE", "cannot reach TF-Serving (connection refused); is it "
                                         f"running with --rest_api_port={self.endpoint.port}?") from None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.BadStatusLine) as e:
                # A kept-alive connection the server has since closed: retry once on a new one.
                self._drop_connection()
                if reused and not fresh_try:
                    continue
                raise ServingUnavailable(url, "UNAVAILABLE", f"connection lost ({type(e).__name__})") from None
            except OSError as e:
                self._drop_connection()
                raise ServingUnavailable(url, "UNAVAILABLE", f"cannot reach TF-Serving ({e.strerror or e})") from None
        try:
            decoded = json.loads(data) if data else {}
        except ValueError:
            decoded = {"error": data[:300].decode("utf-8", "replace")}
        if response.status != 200:
            message = decoded.get("error", "") if isinstance(decoded, dict) else str(decoded)
            code = HTTP_TO_CODE.get(response.status, "UNKNOWN")
            cls = ServingUnavailable if response.status == 503 else ServingError
            raise cls(url, code, clean_message(message) or response.reason, response.status)
        return decoded

    def _predict(self, inputs, signature):
        names = list(inputs)
        if self.row_format:
            n = len(next(iter(inputs.values())))
            body = {"instances": [{k: _to_json(inputs[k][i]) for k in names} for i in range(n)]}
        else:
            body = {"inputs": {k: _to_json(v) for k, v in inputs.items()}}
        body["signature_name"] = signature
        answer = self._request("POST", self._path + ":predict", body)
        if self.row_format:
            rows = answer["predictions"]
            if rows and isinstance(rows[0], dict):
                return {k: _from_json([r[k] for r in rows]) for k in rows[0]}
            return {self._output_name(signature): _from_json(rows)}
        outputs = answer["outputs"]
        if isinstance(outputs, dict) and not set(outputs) == {"b64"}:
            return {k: _from_json(v) for k, v in outputs.items()}
        return {self._output_name(signature): _from_json(outputs)}

    def _output_name(self, signature):
        # TF-Serving omits the name of a signature's only output; it is in the metadata.
        if signature not in self._single_output:
            outputs = self.metadata().get(signature, {}).get("outputs", {})
            self._single_output[signature] = next(iter(outputs), "output")
        return self._single_output[signature]

    def _status(self):
        answer = self._request("GET", self._path)
        return [{"version": int(s.get("version", 0)), "state": s.get("state", "UNKNOWN"),
                 "error_code": s.get("status", {}).get("error_code", "OK"),
                 "error_message": s.get("status", {}).get("error_message", "")}
                for s in answer.get("model_version_status", [])]

    def _metadata(self):
        answer = self._request("GET", self._path + "/metadata")
        return _signature_dict(answer.get("metadata", {}).get("signature_def", {}))

    def close(self):
        self._drop_connection()


def _to_json(value):
    """numpy/bytes -> TF-Serving JSON: binary strings as {"b64": ...}, arrays as nested lists."""
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [_to_json(v) for v in value]
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _from_json(value):
    def unwrap(v):
        if isinstance(v, dict) and "b64" in v:
            return base64.b64decode(v["b64"])
        if isinstance(v, list):
            return [unwrap(x) for x in v]
        return v
    value = unwrap(value)
    array = np.array(value)
    if array.dtype.kind in "US":
        array = np.array(value, dtype=object)
    elif array.dtype.kind == "f":
        array = array.astype(np.float32)
    return array


def connect(url: str, timeout: float = 30.0, retries: int = 2, row_format: bool = False) -> Client:
    """A GrpcClient for grpc:// URLs, a RestClient for http(s):// URLs."""
    endpoint = parse_url(url)
    if endpoint.protocol == "grpc":
        return GrpcClient(endpoint, timeout, retries)
    return RestClient(endpoint, timeout, retries, row_format=row_format)
