"""kclass.serving_client, the TF-Serving client, against the loopback EMULATOR (tests/serving/emulator.py)
serving an exported model, and against a real TF-Serving when TFS_GRPC / TFS_REST are set.

Real server: export the demo model, serve it as `demo`, then
  TFS_GRPC=grpc://HOST:8500/demo TFS_REST=http://HOST:8501/demo TFS_SAVED_MODEL=serving/models/demo/1 \
  python -m pytest -q -m tfserving tests/test_serving_client.py
"""

import os
import socket
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from kclass import serving_client
from kclass.errors import UserError
from tests.serving.emulator import Emulator, ModelRegistry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVING = os.path.join(ROOT, "serving")


@pytest.fixture(scope="module")
def emulator(exported):
    registry = ModelRegistry()
    registry.add_model("demo", exported.base, labels={"stable": 1})
    with Emulator(registry) as running:
        yield running


@pytest.fixture(scope="module")
def local(exported):
    """What the served model must answer: the SavedModel run in-process."""
    signature = tf.saved_model.load(exported.version_dir).signatures["serving_default"]
    return lambda images: {k: v.numpy() for k, v in signature(images=tf.constant(images)).items()}


SERVERS = ["emulator-grpc", "emulator-rest", "emulator-rest-rows",
           pytest.param("tfserving-grpc", marks=pytest.mark.tfserving),
           pytest.param("tfserving-rest", marks=pytest.mark.tfserving)]


@pytest.fixture(params=SERVERS)
def server(request):
    """(client factory taking a URL suffix, base URL, expected-output function)."""
    kind = request.param
    if kind.startswith("tfserving"):
        url = os.environ.get("TFS_GRPC" if kind.endswith("grpc") else "TFS_REST")
        saved = os.environ.get("TFS_SAVED_MODEL")
        if not url or not saved:
            pytest.skip("needs a real TF-Serving: set TFS_GRPC/TFS_REST and TFS_SAVED_MODEL")
        signature = tf.saved_model.load(saved).signatures["serving_default"]
        expected = lambda images: {k: v.numpy() for k, v in signature(images=tf.constant(images)).items()}  # noqa
        return url, expected, False
    emu, local = request.getfixturevalue("emulator"), request.getfixturevalue("local")
    url = emu.grpc_url("demo") if kind == "emulator-grpc" else emu.rest_url("demo")
    return url, local, kind.endswith("rows")


def _client(url, rows=False, **kw):
    return serving_client.connect(url, timeout=kw.pop("timeout", 30), retries=kw.pop("retries", 1), row_format=rows)


def test_status_and_metadata(server):
    url, _, rows = server
    with _client(url, rows) as client:
        status = client.status()
        assert status and all(s["state"] == "AVAILABLE" and s["error_code"] == "OK" for s in status)
        meta = client.metadata()
    assert set(meta) >= {"serving_default", "predict_images"}
    default = meta["serving_default"]
    assert default["inputs"] == {"images": {"dtype": "DT_STRING", "shape": [-1]}}
    assert default["outputs"]["probabilities"] == {"dtype": "DT_FLOAT", "shape": [-1, 6]}
    assert default["outputs"]["top_k_names"]["dtype"] == "DT_STRING"
    assert meta["predict_images"]["inputs"]["images"]["shape"] == [-1, 16, 16, 3]


def test_predict_equals_local_predict(server, exported):
    url, expected, rows = server
    images = exported.val_images[:5]
    with _client(url, rows) as client:
        got = client.predict(images)
    want = expected(images)
    np.testing.assert_allclose(got["probabilities"], want["probabilities"], atol=1e-6)
    np.testing.assert_array_equal(got["top_k_classes"], want["top_k_classes"])
    assert got["top_k_names"].tolist() == [[n.decode() for n in row] for row in want["top_k_names"]]


def test_float_signature(server, exported):
    url, _, rows = server
    floats = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(np.float32)
    with _client(url, rows) as client:
        got = client.predict_tensors({"images": floats}, signature="predict_images")
    assert got["probabilities"].shape == (2, 6) and got["top_k_names"].shape == (2, 2)


def test_bad_image_is_invalid_argument_in_one_line(server, exported):
    url, _, rows = server
    with _client(url, rows) as client:
        with pytest.raises(serving_client.ServingError) as e:
            client.predict([exported.val_images[0], b"%PDF-1.7 definitely not an image"])
        assert e.value.code == "INVALID_ARGUMENT"
        assert e.value.http_status == (None if url.startswith("grpc") else 400)
        assert "not an image" in str(e.value) and "\n" not in str(e.value)
        assert client.predict(exported.val_images[:1])["probabilities"].shape == (1, 6)  # still serving


def test_unknown_model_and_version_are_not_found(server):
    url, _, rows = server
    base = url.rsplit("/", 1)[0]
    for bad in (base + "/no_such_model", url + "/versions/999"):
        with _client(bad, rows) as client, pytest.raises(serving_client.ServingError) as e:
            client.predict([b"x"])
        assert e.value.code == "NOT_FOUND", str(e.value)
        assert e.value.http_status == (None if url.startswith("grpc") else 404)


def test_versions_and_labels(emulator, exported, local):
    for suffix in ("/versions/1", "/labels/stable"):
        for url in (emulator.grpc_url("demo") + suffix, emulator.rest_url("demo") + suffix):
            with _client(url) as client:
                got = client.predict(exported.val_images[:2])
                assert [s["version"] for s in client.status()] == [1]
            np.testing.assert_allclose(got["probabilities"], local(exported.val_images[:2])["probabilities"],
                                       atol=1e-6)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_one_line():
    port = _free_port()  # closed again: nothing listens there
    for url in (f"grpc://127.0.0.1:{port}/demo", f"http://127.0.0.1:{port}/demo"):
        client = serving_client.connect(url, timeout=5, retries=1)
        client.backoff = 0.01
        start = time.monotonic()
        with pytest.raises(serving_client.ServingUnavailable) as e:
            client.predict([b"x"])
        assert time.monotonic() - start < 10
        assert "connection refused" in str(e.value).lower() and "\n" not in str(e.value), str(e.value)
        assert isinstance(e.value, UserError)


def test_silent_server_times_out():
    """A peer that accepts connections but never answers: both clients give up after `timeout`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                pass
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        for url in (f"http://127.0.0.1:{port}/demo", f"grpc://127.0.0.1:{port}/demo"):
            client = serving_client.connect(url, timeout=0.5, retries=0)
            start = time.monotonic()
            with pytest.raises(serving_client.ServingError) as e:
                client.predict([b"x"])
            assert time.monotonic() - start < 5
            assert isinstance(e.value, serving_client.ServingTimeout), str(e.value)
            client.close()
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_concurrent_shared_clients(emulator, exported, local):
    """8 threads x 250 requests on two shared clients (gRPC and REST), valid and invalid images mixed:
    every valid answer equals local predict, every invalid one is INVALID_ARGUMENT/400, nothing hangs."""
    valid = exported.val_images[:6]
    expected = [local([image])["probabilities"][0] for image in valid]
    invalid = [b"", b"not an image", valid[0][:30], b"\x89PNG\r\n\x1a\n" + b"\0" * 40]
    clients = [serving_client.connect(emulator.grpc_url("demo"), timeout=20, retries=2),
               serving_client.connect(emulator.rest_url("demo"), timeout=20, retries=2)]
    failures, counts = [], {"ok": 0, "refused": 0}
    lock = threading.Lock()

    def worker(t):
        rng = np.random.default_rng(t)
        for i in range(250):
            client = clients[(t + i) % 2]
            if rng.random() < 0.3:
                try:
                    client.predict([invalid[rng.integers(len(invalid))]])
                    failures.append("invalid image accepted")
                except serving_client.ServingError as e:
                    if e.code != "INVALID_ARGUMENT" or e.http_status not in (None, 400):
                        failures.append(str(e))
                with lock:
                    counts["refused"] += 1
            else:
                k = int(rng.integers(len(valid)))
                try:
                    got = client.predict([valid[k]])["probabilities"][0]
                    if not np.allclose(got, expected[k], atol=1e-6):
                        failures.append(f"image {k}: {got} != {expected[k]}")
                except serving_client.ServingError as e:
                    failures.append(str(e))
                with lock:
                    counts["ok"] += 1

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 600
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
    for client in clients:
        client.close()
    assert not failures, failures[:5]
    assert counts["ok"] + counts["refused"] == 2000 and counts["refused"] > 400


def test_parse_url():
    e = serving_client.parse_url("grpc://models.local/demo/labels/stable")
    assert (e.protocol, e.host, e.port, e.model, e.label) == ("grpc", "models.local", 8500, "demo", "stable")
    e = serving_client.parse_url("http://127.0.0.1:9001/v1/models/demo/versions/3")
    assert (e.port, e.model, e.version) == (9001, "demo", 3)
    for bad in ("ftp://h/demo", "grpc://h", "http://h:8501/a/b/c/d", "demo"):
        with pytest.raises(UserError):
            serving_client.parse_url(bad)


def test_models_config_is_a_model_server_config_the_emulator_serves(exported, tmp_path):
    from tensorflow_serving.config import model_server_config_pb2

    text = open(os.path.join(SERVING, "models.config")).read()
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert model.name == "demo" and model.base_path == "/models/demo" and model.model_platform == "tensorflow"
    versions = list(model.model_version_policy.specific.versions)
    assert dict(model.version_labels) == {"stable": 1} and 1 in versions
    # docker-compose mounts ./models at /models, where `kclass.export --export_dir serving/models/demo` writes.
    registry = ModelRegistry.from_config(os.path.join(SERVING, "models.config"),
                                         lambda path: path.replace("/models", os.path.dirname(exported.base), 1))
    with Emulator(registry, grpc_api=False) as emu, _client(emu.rest_url("demo") + "/labels/stable") as client:
        assert client.predict(exported.val_images[:1])["probabilities"].shape == (1, 6)


def test_batching_monitoring_and_compose_files():
    import yaml
    from tests.serving import config_protos

    batching = config_protos.parse_batching(open(os.path.join(SERVING, "batching.config")).read())
    assert batching.max_batch_size.value >= 1 and batching.num_batch_threads.value >= 1
    monitoring = config_protos.parse_monitoring(open(os.path.join(SERVING, "monitoring.config")).read())
    assert monitoring.prometheus_config.enable and monitoring.prometheus_config.path.startswith("/")
    compose = yaml.safe_load(open(os.path.join(SERVING, "docker-compose.yml")))
    images = {name: s["image"] for name, s in compose["services"].items()}
    assert images["tfserving"] == "tensorflow/serving:2.21.0" and images["tfserving-gpu"].endswith("-gpu")
    for service in compose["services"].values():
        mounts = dict(v.split(":")[:2] for v in service["volumes"])
        for flag in service["command"]:
            if flag.startswith(("--model_config_file=", "--batching_parameters_file=", "--monitoring_config_file=")):
                inside = flag.split("=", 1)[1]
                local = [src for src, dst in mounts.items() if dst == inside]
                assert local and os.path.isfile(os.path.join(SERVING, local[0])), flag
        assert mounts["./models"] == "/models"
