"""The ImageNet `.pdparams` files PaddleClas's quick-start tutorial downloads, and a fetcher.

Files land as `<out_dir>/<name>.pdparams`, the names the fine-tuning recipes' PRETRAINED use.
"""

import os
import shutil
import urllib.request

from kclass import atomic_write
from kclass.errors import WeightsError
from kclass.weights.pdparams import read_pdparams

BASE_URL = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/"
TUTORIAL = ("ResNet50_vd_pretrained", "ResNet50_vd_ssld_pretrained",
            "MobileNetV3_large_x1_0_pretrained")
DOWNLOAD_COMMAND = "python tools/prepare_dataset.py weights --out {out_dir}"


def download_hint(path) -> str:
    """Suffix for a missing-file message: how to fetch it, when it is a tutorial file."""
    name = os.path.basename(path)[:-len(".pdparams")] if path.endswith(".pdparams") else ""
    if name not in TUTORIAL:
        return ""
    out_dir = os.path.dirname(path) or "."
    return f"; fetch it (online) with: {DOWNLOAD_COMMAND.format(out_dir=out_dir)}"


def download(names=TUTORIAL, out_dir="pretrained", base_url=BASE_URL, force=False, timeout=120,
             log=print) -> list:
    """Fetches `<base_url><name>.pdparams` for each name into `out_dir`; returns the paths.

    Existing files are kept unless `force`. Each download goes to a temporary file, is checked to
    be a readable `.pdparams` (an HTML error page is not), then renamed into place.
    """
    unknown = [n for n in names if n not in TUTORIAL]
    if unknown:
        raise WeightsError(f"unknown pretrained file(s) {', '.join(unknown)}; known: {', '.join(TUTORIAL)}")
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name in names:
        target = os.path.join(out_dir, f"{name}.pdparams")
        paths.append(target)
        if os.path.isfile(target) and not force:
            log(f"{target}: present, kept")
            continue
        url = base_url.rstrip("/") + f"/{name}.pdparams"
        try:
            with atomic_write.file(target) as tmp:
                with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                    shutil.copyfileobj(resp, out, length=1 << 20)
                tensors = read_pdparams(tmp)
        except WeightsError as e:
            raise WeightsError(f"{url}: downloaded, but {e}") from None
        except OSError as e:  # URLError and HTTPError are OSErrors
            raise WeightsError(f"cannot download {url}: {e}") from None
        log(f"{target}: {len(tensors)} tensors from {url}")
    return paths
