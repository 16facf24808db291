"""Fetching the tutorial's pretrained files, from a loopback HTTP server and file:// (never the internet)."""

import functools
import http.server
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from kclass.errors import WeightsError
from kclass.weights import pretrained, read_pdparams, write_pdparams

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def mirror(tmp_path):
    """A folder holding small stand-ins for the three tutorial files."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    for i, name in enumerate(pretrained.TUTORIAL):
        write_pdparams({"fc.bias": np.full(3, i, "float32")}, folder / f"{name}.pdparams")
    return folder


@pytest.fixture
def server(mirror):
    handler = functools.partial(_QuietHandler, directory=str(mirror))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", httpd
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_cli_fetches_the_three_files_then_keeps_them(tmp_path, server):
    url, httpd = server
    out = tmp_path / "pretrained"
    cmd = [sys.executable, os.path.join(ROOT, "tools", "prepare_dataset.py"), "weights", "--out", str(out),
           "--base_url", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for i, name in enumerate(pretrained.TUTORIAL):
        np.testing.assert_array_equal(read_pdparams(out / f"{name}.pdparams")["fc.bias"], np.full(3, i))
    httpd.shutdown()  # a second run needs no network: present files are kept
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.count("present, kept") == 3


def test_file_url_and_force(tmp_path, mirror):
    out = tmp_path / "pretrained"
    name = pretrained.TUTORIAL[2]
    paths = pretrained.download([name], str(out), base_url=mirror.as_uri(), log=lambda _: None)
    assert paths == [str(out / f"{name}.pdparams")]
    write_pdparams({"fc.bias": np.zeros(1, "float32")}, out / f"{name}.pdparams")
    pretrained.download([name], str(out), base_url=mirror.as_uri(), force=True, log=lambda _: None)
    assert read_pdparams(out / f"{name}.pdparams")["fc.bias"].shape == (3,)


def test_errors_leave_nothing_behind(tmp_path, server, mirror):
    url, _ = server
    out = tmp_path / "pretrained"
    (mirror / f"{pretrained.TUTORIAL[0]}.pdparams").unlink()
    with pytest.raises(WeightsError, match="cannot download .*ResNet50_vd_pretrained.pdparams.*404"):
        pretrained.download(pretrained.TUTORIAL[:1], str(out), base_url=url, log=lambda _: None)
    (mirror / f"{pretrained.TUTORIAL[0]}.pdparams").write_text("<html>moved</html>")
    with pytest.raises(WeightsError, match="downloaded, but .*not a readable .pdparams"):
        pretrained.download(pretrained.TUTORIAL[:1], str(out), base_url=url, log=lambda _: None)
    assert os.listdir(out) == []
    with pytest.raises(WeightsError, match="unknown pretrained file"):
        pretrained.download(["ResNet9000"], str(out), base_url=url)
