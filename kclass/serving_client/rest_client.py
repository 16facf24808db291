"""TF-Serving's REST API (`/v1/models/NAME...`), on keep-alive connections."""

import base64
import http.client
import json
import socket
import threading

import numpy as np

from kclass.serving_client.client import Client, signature_dict
from kclass.serving_client.endpoint import Endpoint
from kclass.serving_client.errors import (HTTP_TO_CODE, ServingError, ServingTimeout, ServingUnavailable,
                                          clean_message)


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
        return signature_dict(answer.get("metadata", {}).get("signature_def", {}))

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
