"""The EMULATOR follows TF-Serving's documented REST formats (api_rest.md), checked with raw HTTP on a
toy model: row vs columnar requests, the single output's name omitted, b64 binaries, `{"error": ...}`
with 400/404. kclass's client must read all of them."""

import base64
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from kclass import serving_client
from tests.serving.emulator import Emulator, ModelRegistry


class _Toy(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def half_plus_two(self, x):
        return {"y": x / 2 + 2}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="blob")])
    def lengths(self, blob):
        return {"n": tf.strings.length(blob), "echo_bytes": blob, "text": tf.strings.upper(blob)}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    base = tmp_path_factory.mktemp("toy") / "toy"
    toy = _Toy()
    tf.saved_model.save(toy, str(base / "7"), signatures={"serving_default": toy.half_plus_two.get_concrete_function(),
                                                          "lengths": toy.lengths.get_concrete_function()})
    registry = ModelRegistry()
    registry.add_model("toy", str(base))
    with Emulator(registry) as running:
        yield running


def _http(emulator, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{emulator.rest_port}{path}", data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_row_and_columnar_formats_with_single_output(emulator):
    assert _http(emulator, "/v1/models/toy:predict", {"instances": [1.0, 2.0, 5.0]}) == (200, {"predictions": [2.5, 3.0, 4.5]})
    assert _http(emulator, "/v1/models/toy:predict", {"inputs": [1.0, 5.0]}) == (200, {"outputs": [2.5, 4.5]})
    assert _http(emulator, "/v1/models/toy:predict", {"inputs": {"x": [1.0]}}) == (200, {"outputs": [2.5]})


def test_binary_inputs_and_outputs(emulator):
    blobs = [b"\x00\xffab", b"cd"]
    b64 = [{"b64": base64.b64encode(b).decode()} for b in blobs]
    status, rows = _http(emulator, "/v1/models/toy:predict", {"signature_name": "lengths", "instances": b64})
    assert status == 200
    assert rows["predictions"][1] == {"n": 2, "echo_bytes": {"b64": base64.b64encode(b"cd").decode()}, "text": "CD"}
    status, columns = _http(emulator, "/v1/models/toy/versions/7:predict",
                            {"signature_name": "lengths", "inputs": {"blob": b64}})
    assert status == 200 and columns["outputs"]["n"] == [4, 2]


def test_errors_are_json_with_tf_serving_status(emulator):
    cases = [("/v1/models/nope:predict", {"instances": [1.0]}, 404),
             ("/v1/models/toy/versions/8:predict", {"instances": [1.0]}, 404),
             ("/v1/models/toy:predict", {"instances": [1.0], "inputs": [1.0]}, 400),
             ("/v1/models/toy:predict", {"signature_name": "nope", "instances": [1.0]}, 400),
             ("/v1/models/toy:predict", {"instances": ["a"]}, 400),
             ("/v1/models/toy:explode", {"instances": [1.0]}, 400)]
    for path, body, status in cases:
        got, answer = _http(emulator, path, body)
        assert got == status and set(answer) == {"error"} and answer["error"], (path, answer)


def test_status_and_metadata_json(emulator):
    status, answer = _http(emulator, "/v1/models/toy")
    assert status == 200
    assert answer == {"model_version_status": [{"version": "7", "state": "AVAILABLE",
                                                "status": {"error_code": "OK", "error_message": ""}}]}
    status, meta = _http(emulator, "/v1/models/toy/metadata")
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["x"]["dtype"] == "DT_FLOAT" and sig["outputs"]["y"]["tensor_shape"]["dim"][0]["size"] == "-1"


@pytest.mark.parametrize("protocol", ["grpc", "rest", "rest-rows"])
def test_client_names_the_single_unnamed_output(emulator, protocol):
    url = emulator.grpc_url("toy") if protocol == "grpc" else emulator.rest_url("toy")
    with serving_client.connect(url, timeout=10, row_format=protocol == "rest-rows") as client:
        got = client.predict_tensors({"x": np.array([1.0, 3.0], np.float32)})
        assert list(got) == ["y"]
        np.testing.assert_allclose(got["y"], [2.5, 3.5])
        text = client.predict_tensors({"blob": np.array([b"ab"], object)}, signature="lengths")
        assert text["text"].tolist() == ["AB"] and text["n"].tolist() == [2]
        assert text["echo_bytes"].tolist() == [b"ab"]  # `*_bytes` outputs stay binary
