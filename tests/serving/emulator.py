"""A loopback EMULATOR of TF-Serving's gRPC and REST APIs, for testing kclass's client and exports.

It is not TF-Serving: it loads exported SavedModel versions with `tf.saved_model.load` and answers
the documented protocol (PredictionService.Predict/GetModelMetadata, ModelService.GetModelStatus;
REST `/v1/models/NAME[/versions/N|/labels/L][/metadata|:predict]` with row `instances` or columnar
`inputs`, `{"b64": ...}` binaries, the single-output name omitted, `{"error": ...}` bodies with TF-Serving's
HTTP status per error code). Like TF-Serving it replays each version's
`assets.extra/tf_serving_warmup_requests` when loading it and refuses the version if one fails.
It listens on 127.0.0.1 only, on free ports.
"""

import base64
import json
import os
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)
from tensorflow_serving.config import model_server_config_pb2

from kclass.export.signatures import SERVING_SIGNATURE as DEFAULT_SIGNATURE
from kclass.export.warmup import read_warmup_requests
from kclass.serving_client import CODE_TO_HTTP, clean_message

WARMUP = os.path.join("assets.extra", "tf_serving_warmup_requests")


class EmulatorError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class Servable:
    """One loaded version: its signatures (callables) and SignatureDefs (for metadata)."""

    def __init__(self, name, version, path):
        self.name, self.version, self.path = name, version, path
        self.loaded = tf.saved_model.load(path)
        meta = saved_model_pb2.SavedModel.FromString(open(os.path.join(path, "saved_model.pb"), "rb").read())
        self.signature_defs = {k: v for k, v in meta.meta_graphs[0].signature_def.items()
                               if not k.startswith("__")}

    def run(self, signature, inputs):
        """inputs: name -> numpy (bytes objects for DT_STRING) -> outputs name -> numpy."""
        name = signature or DEFAULT_SIGNATURE
        if name not in self.signature_defs:
            raise EmulatorError("INVALID_ARGUMENT", f'Serving signature name: "{name}" not found in signature def')
        sig_def = self.signature_defs[name]
        expected = set(sig_def.inputs)
        if set(inputs) != expected:
            raise EmulatorError("INVALID_ARGUMENT", f"input names {sorted(inputs)} do not match the signature's "
                                                    f"{sorted(expected)}")
        tensors = {}
        for key, value in inputs.items():
            dtype = tf.dtypes.as_dtype(sig_def.inputs[key].dtype)
            try:
                tensors[key] = tf.constant(value, dtype=dtype)
            except (TypeError, ValueError) as e:
                raise EmulatorError("INVALID_ARGUMENT", f"input {key}: expects {dtype.name}: {e}") from None
        try:
            outputs = self.loaded.signatures[name](**tensors)
        except tf.errors.OpError as e:
            raise EmulatorError(_code_name(e.error_code), clean_message(e.message)) from None
        except (TypeError, ValueError) as e:  # shapes the signature does not accept
            raise EmulatorError("INVALID_ARGUMENT", clean_message(str(e))) from None
        return {k: v.numpy() for k, v in outputs.items()}


def _code_name(code: int) -> str:
    for status in grpc.StatusCode:
        if status.value[0] == int(code):
            return status.name
    return "UNKNOWN"


class ModelRegistry:
    """name -> {version: Servable} and name -> {label: version}; the emulator's ServerCore."""

    def __init__(self):
        self.models, self.labels = {}, {}
        self.lock = threading.Lock()

    def add_version(self, name, version, path, warmup=True):
        servable = Servable(name, version, path)
        warmup_file = os.path.join(path, WARMUP)
        if warmup and os.path.isfile(warmup_file):
            for log in read_warmup_requests(warmup_file):
                request = log.predict_log.request
                servable.run(request.model_spec.signature_name,
                             {k: tf.make_ndarray(t) for k, t in request.inputs.items()})
        with self.lock:
            self.models.setdefault(name, {})[int(version)] = servable
        return servable

    def add_model(self, name, base_path, versions=None, labels=None, warmup=True):
        """Loads `versions` (default: the latest all-digit directory) of `base_path`."""
        found = sorted(int(d) for d in os.listdir(base_path) if d.isdigit())
        for v in (versions or found[-1:]):
            self.add_version(name, v, os.path.join(base_path, str(v)), warmup)
        self.labels[name] = dict(labels or {})

    def resolve(self, name, version=None, label=None) -> Servable:
        versions = self.models.get(name)
        if not versions:
            raise EmulatorError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        if label:
            if label not in self.labels.get(name, {}):
                raise EmulatorError("INVALID_ARGUMENT", f"Unrecognized servable version label: {label}")
            version = self.labels[name][label]
        if version is None:
            return versions[max(versions)]
        if int(version) not in versions:
            raise EmulatorError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
        return versions[int(version)]

    def status(self, name, version=None, label=None):
        if version is None and not label:
            if name not in self.models:
                raise EmulatorError("NOT_FOUND", f"Could not find any versions of model {name}")
            return sorted(self.models[name])
        return [self.resolve(name, version, label).version]

    @classmethod
    def from_config(cls, config_path, map_base_path, warmup=True):
        """Loads a ModelServerConfig text proto; `map_base_path(path)` relocates each base_path."""
        config = text_format.Parse(open(config_path).read(), model_server_config_pb2.ModelServerConfig())
        registry = cls()
        for model in config.model_config_list.config:
            base = map_base_path(model.base_path)
            policy = model.model_version_policy
            kind = policy.WhichOneof("policy_choice")
            found = sorted(int(d) for d in os.listdir(base) if d.isdigit())
            if kind == "specific":
                versions = [v for v in policy.specific.versions if v in found]
            elif kind == "all":
                versions = found
            else:
                versions = found[-max(policy.latest.num_versions, 1):] if found else []
            registry.add_model(model.name, base, versions, dict(model.version_labels), warmup)
        return registry


# ---------------- gRPC ----------------

class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, registry):
        self.registry = registry

    def _servable(self, spec, context):
        version = spec.version.value if spec.HasField("version") else None
        try:
            return self.registry.resolve(spec.name, version, spec.version_label or None)
        except EmulatorError as e:
            context.abort(getattr(grpc.StatusCode, e.code), e.message)

    def Predict(self, request, context):
        servable = self._servable(request.model_spec, context)
        try:
            inputs = {k: tf.make_ndarray(t) for k, t in request.inputs.items()}
            outputs = servable.run(request.model_spec.signature_name, inputs)
        except EmulatorError as e:
            context.abort(getattr(grpc.StatusCode, e.code), e.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        for k, v in outputs.items():
            response.outputs[k].CopyFrom(tf.make_tensor_proto(v))
        return response

    def GetModelMetadata(self, request, context):
        for field in request.metadata_field:
            if field != "signature_def":
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Metadata field {field} is not supported")
        if not request.metadata_field:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "GetModelMetadataRequest must specify at least one "
                                                           "metadata_field")
        servable = self._servable(request.model_spec, context)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.metadata["signature_def"].Pack(_signature_map(servable))
        return response


def _signature_map(servable):
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for k, v in servable.signature_defs.items():
        signature_map.signature_def[k].CopyFrom(v)
    return signature_map


class _ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, registry):
        self.registry = registry

    def GetModelStatus(self, request, context):
        spec = request.model_spec
        try:
            versions = self.registry.status(spec.name, spec.version.value if spec.HasField("version") else None,
                                            spec.version_label or None)
        except EmulatorError as e:
            context.abort(getattr(grpc.StatusCode, e.code), e.message)
        return _status_response(versions)


def _status_response(versions):
    response = get_model_status_pb2.GetModelStatusResponse()
    for v in versions:
        status = response.model_version_status.add()
        status.version = v
        status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    return response


# ---------------- REST ----------------

_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?(/metadata|:predict)?$")


def _unwrap(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError:
            raise EmulatorError("INVALID_ARGUMENT", "JSON Value not formatted correctly for base64 data") from None
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _to_numpy(value, dtype_enum):
    dtype = tf.dtypes.as_dtype(dtype_enum)
    value = _unwrap(value)
    if dtype == tf.string:
        def encode(v):
            if isinstance(v, list):
                return [encode(x) for x in v]
            if isinstance(v, bytes):
                return v
            if isinstance(v, str):
                return v.encode()
            raise EmulatorError("INVALID_ARGUMENT", f"JSON Value: {json.dumps(v)[:80]} Type: Number is not of "
                                                    "expected type: string")
        return np.array(encode(value), dtype=object)
    try:
        return np.array(value, dtype=dtype.as_numpy_dtype)
    except (TypeError, ValueError):
        raise EmulatorError("INVALID_ARGUMENT", f"JSON Value is not of expected type: {dtype.name}") from None


def _output_json(name, value):
    if value.dtype == object:
        encode = ((lambda b: {"b64": base64.b64encode(b).decode()}) if name.endswith("_bytes")
                  else (lambda b: b.decode("utf-8", "replace")))
        return np.vectorize(encode, otypes=[object])(value).tolist() if value.size else value.tolist()
    return value.tolist()


def rest_predict(registry, name, version, label, body):
    """The :predict endpoint on a parsed JSON body -> the response JSON (raises EmulatorError)."""
    if not isinstance(body, dict):
        raise EmulatorError("INVALID_ARGUMENT", "JSON Value: request must be an object")
    servable = registry.resolve(name, version, label)
    signature = body.get("signature_name") or DEFAULT_SIGNATURE
    if signature not in servable.signature_defs:
        raise EmulatorError("INVALID_ARGUMENT", f'Serving signature name: "{signature}" not found in signature def')
    spec_inputs = servable.signature_defs[signature].inputs
    if ("instances" in body) == ("inputs" in body):
        raise EmulatorError("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key" if "inputs" not in body
                            else "Request objects can't have both 'inputs' and 'instances'")
    row = "instances" in body
    if row:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise EmulatorError("INVALID_ARGUMENT", "'instances' must be a non-empty list")
        named = all(isinstance(i, dict) and set(i) == set(spec_inputs) and set(i) != {"b64"} for i in instances)
        if len(spec_inputs) == 1 and not named:
            (key,) = spec_inputs
            columns = {key: instances}
        elif named:
            columns = {k: [i[k] for i in instances] for k in spec_inputs}
        else:
            raise EmulatorError("INVALID_ARGUMENT", f"instances must be objects with keys {sorted(spec_inputs)}")
    else:
        inputs = body["inputs"]
        if isinstance(inputs, dict) and set(inputs) != {"b64"}:
            columns = inputs
        elif len(spec_inputs) == 1:
            columns = {next(iter(spec_inputs)): inputs}
        else:
            raise EmulatorError("INVALID_ARGUMENT", f"'inputs' must be an object with keys {sorted(spec_inputs)}")
    arrays = {}
    for k, v in columns.items():
        if k not in spec_inputs:
            raise EmulatorError("INVALID_ARGUMENT", f"input {k!r} is not in the signature's {sorted(spec_inputs)}")
        arrays[k] = _to_numpy(v, spec_inputs[k].dtype)
    outputs = servable.run(signature, arrays)
    if row:
        if len(outputs) == 1:
            (k, v), = outputs.items()
            return {"predictions": _output_json(k, v)}
        n = {len(v) for v in outputs.values()}
        if len(n) != 1:
            raise EmulatorError("INVALID_ARGUMENT", "outputs differ in their 0-th dimension: use the columnar "
                                                    "'inputs' format")
        columns = {k: _output_json(k, v) for k, v in outputs.items()}
        return {"predictions": [{k: columns[k][i] for k in columns} for i in range(n.pop())]}
    if len(outputs) == 1:
        (k, v), = outputs.items()
        return {"outputs": _output_json(k, v)}
    return {"outputs": {k: _output_json(k, v) for k, v in outputs.items()}}


def _rest_handler(registry):
    from google.protobuf import json_format

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as TF-Serving's evhttp server

        def log_message(self, *args):
            pass

        def _reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, code, message):
            self._reply(CODE_TO_HTTP.get(code, 500), {"error": message})

        def _route(self, method):
            match = _PATH.match(self.path.split("?")[0])
            if not match or (method == "GET") == (match.group(4) == ":predict"):
                self._error("INVALID_ARGUMENT", f"Malformed request: {method} {self.path}")
                return None
            return match

        def do_GET(self):  # noqa: N802
            match = self._route("GET")
            if not match:
                return
            name, version, label, what = match.groups()
            try:
                if what == "/metadata":
                    servable = registry.resolve(name, version, label)
                    self._reply(200, {"model_spec": {"name": name, "signature_name": "",
                                                     "version": str(servable.version)},
                                      "metadata": {"signature_def": json_format.MessageToDict(
                                          _signature_map(servable), preserving_proto_field_name=True)}})
                else:
                    versions = registry.status(name, version, label)
                    self._reply(200, {"model_version_status": [
                        {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
                        for v in versions]})
            except EmulatorError as e:
                self._error(e.code, e.message)

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            match = self._route("POST")
            if not match:
                return
            name, version, label, _ = match.groups()
            try:
                body = json.loads(raw or b"null")
            except ValueError as e:
                self._error("INVALID_ARGUMENT", f"JSON Parse error: {e}")
                return
            try:
                self._reply(200, rest_predict(registry, name, version, label, body))
            except EmulatorError as e:
                self._error(e.code, e.message)

    return Handler


class Emulator:
    """gRPC + REST loopback servers over a ModelRegistry. Use as a context manager."""

    def __init__(self, registry: ModelRegistry, grpc_api=True, rest_api=True, workers=16):
        self.registry = registry
        self.grpc_port = self.rest_port = None
        self._grpc = self._http = self._thread = None
        self._want = (grpc_api, rest_api, workers)

    def start(self):
        grpc_api, rest_api, workers = self._want
        if grpc_api:
            self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
            prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
                _PredictionService(self.registry), self._grpc)
            model_service_pb2_grpc.add_ModelServiceServicer_to_server(_ModelService(self.registry), self._grpc)
            self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
            self._grpc.start()
        if rest_api:
            self._http = ThreadingHTTPServer(("127.0.0.1", 0), _rest_handler(self.registry))
            self._http.daemon_threads = True
            self.rest_port = self._http.server_address[1]
            self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05},
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self):
        if self._grpc is not None:
            self._grpc.stop(grace=None)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def grpc_url(self, model):
        return f"grpc://127.0.0.1:{self.grpc_port}/{model}"

    def rest_url(self, model):
        return f"http://127.0.0.1:{self.rest_port}/{model}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
