"""Lays out the tutorial's data sets as PaddleClas list files under dataset/.

python tools/prepare_dataset.py cifar100 [--from FILE] [--out dataset]
  Downloads the tutorial's CIFAR100.tar (or takes --from: that tar, or the official
  cifar-100-python.tar.gz, converted to PNGs) into dataset/CIFAR100/{train,test}/ with
  train_list.txt, test_list.txt and label_list.txt.
python tools/prepare_dataset.py nus-wide-scene [--from FILE] [--out dataset]
  The tutorial's NUS-WIDE-SCENE.tar into dataset/NUS-WIDE-SCENE/NUS-SCENE-dataset/ (+ label_list.txt).
python tools/prepare_dataset.py weights [--out pretrained]
  The tutorial's three ImageNet .pdparams files.

python tools/prepare_dataset.py weights [--out pretrained] [--base_url URL] [--force]
  Downloads the tutorial's ImageNet weights (ResNet50_vd, ResNet50_vd_ssld,
  MobileNetV3_large_x1_0 _pretrained.pdparams) that the fine-tuning recipes' PRETRAINED name.
"""

import argparse
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kclass import atomic_write  # noqa: E402

CIFAR100_URL = "https://paddle-imagenet-models-name.bj.bcebos.com/data/CIFAR100.tar"
NUS_URL = "https://paddle-imagenet-models-name.bj.bcebos.com/data/NUS-WIDE-SCENE.tar"
# NUS-WIDE-SCENE's 33 labels in the order of its 0/1 flags (PaddleClas quick start).
NUS_CLASSES = ("airport beach bridge buildings castle cityscape clouds frost garden glacier grass harbor house "
               "lake moon mountain nighttime ocean plants railroad rainbow reflection road sky snow street "
               "sunset temple town valley water waterfall window").split()


class PrepareError(Exception):
    pass


def download(url, folder):
    """Fetches `url` into `folder` (file:// too, for offline tests); returns the local path."""
    target = os.path.join(folder, os.path.basename(url.split("?")[0]) or "download")
    try:
        with atomic_write.file(target) as tmp, open(tmp, "wb") as f, \
                urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, f)
    except OSError as e:
        raise PrepareError(f"cannot download {url}: {e}; download it by hand and pass --from FILE") from None
    return target


def _safe_members(tar):
    """Tar members, refusing absolute paths, `..` and links that could write outside the target."""
    for member in tar.getmembers():
        name = os.path.normpath(member.name)
        if name.startswith(("/", "..")) or os.path.isabs(name) or member.issym() or member.islnk():
            raise PrepareError(f"{tar.name}: refusing unsafe member {member.name!r}")
        yield member


def _write_split(out, split, images, labels):
    import tensorflow as tf
    os.makedirs(os.path.join(out, split), exist_ok=True)
    lines = []
    for i, (image, label) in enumerate(zip(images, labels)):
        rel = f"{split}/{i:05d}.png"
        tf.io.write_file(os.path.join(out, rel), tf.io.encode_png(image))
        lines.append(f"{rel} {int(label)}\n")
    with open(os.path.join(out, f"{split}_list.txt"), "w") as f:
        f.writelines(lines)


def _from_python_batches(tar, out):
    """Official cifar-100-python.tar.gz: pickled batches (read with the safe unpickler) -> PNGs."""
    from kclass import safe_pickle
    batches = {}
    for member in _safe_members(tar):
        base = os.path.basename(member.name)
        if member.isfile() and base in ("train", "test", "meta"):
            try:
                batches[base] = safe_pickle.load(io.BytesIO(tar.extractfile(member).read()), encoding="bytes")
            except safe_pickle.ForbiddenGlobal as e:
                raise PrepareError(f"{tar.name}:{member.name}: refused pickle global {e}") from None
    if set(batches) != {"train", "test", "meta"}:
        raise PrepareError(f"{tar.name}: expected cifar-100-python/{{train,test,meta}}, found {sorted(batches)}")
    for split in ("train", "test"):
        data = batches[split][b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        _write_split(out, split, data, batches[split][b"fine_labels"])
    names = [n.decode() for n in batches["meta"][b"fine_label_names"]]
    with open(os.path.join(out, "label_list.txt"), "w") as f:
        f.writelines(f"{i} {name}\n" for i, name in enumerate(names))


def _from_paddle_tar(tar, out, marker="train_list.txt", levels=1, what="CIFAR100.tar"):
    """A tutorial tar already in PaddleClas layout: extracts (safely) the folder `levels` above `marker`."""
    members = list(_safe_members(tar))
    lists = [m for m in members if os.path.basename(m.name) == marker]
    if not lists:
        raise PrepareError(f"{tar.name}: no {marker} inside; not the tutorial's {what}")
    top = lists[0].name
    for _ in range(levels):
        top = os.path.dirname(top)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(out)) as tmp:
        tar.extractall(tmp, members=members, filter="data")
        shutil.copytree(os.path.join(tmp, top), out, dirs_exist_ok=True)


def _staged(out_root, name):
    """A temp folder in `out_root` that replaces `out_root/name` whole when the block succeeds."""
    return atomic_write.directory(os.path.join(out_root, name), prefix=f".{name}-", replace=True)


def _open_tar(source):
    try:
        return tarfile.open(source)
    except (tarfile.TarError, OSError) as e:
        raise PrepareError(f"{source}: not a readable tar ({e})") from None


def prepare_cifar100(source, out_root):
    """Writes `out_root/CIFAR100/`; `source` is a local tar (either format). Returns the folder."""
    with _staged(out_root, "CIFAR100") as staging, _open_tar(source) as tar:
        if any(os.path.basename(n) == "meta" for n in tar.getnames()):
            _from_python_batches(tar, staging)
        else:
            _from_paddle_tar(tar, staging)
    return os.path.join(out_root, "CIFAR100")


def _check_nus_list(path, name):
    if not os.path.isfile(path):
        raise PrepareError(f"NUS-SCENE-dataset/{name} missing")
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            if line.strip() and len(line.rstrip("\r\n").split("\t")[-1].split(",")) != len(NUS_CLASSES):
                raise PrepareError(f"{name}:{number}: expected {len(NUS_CLASSES)} label flags")


def prepare_nus_wide_scene(source, out_root):
    """Writes `out_root/NUS-WIDE-SCENE/NUS-SCENE-dataset/` (images/, multilabel_{train,test}_list.txt,
    label_list.txt) from the tutorial's NUS-WIDE-SCENE.tar; checks every line has 33 flags."""
    with _staged(out_root, "NUS-WIDE-SCENE") as staging:
        with _open_tar(source) as tar:
            _from_paddle_tar(tar, staging, "multilabel_train_list.txt", levels=2, what="NUS-WIDE-SCENE.tar")
        dataset = os.path.join(staging, "NUS-SCENE-dataset")
        for name in ("multilabel_train_list.txt", "multilabel_test_list.txt"):
            _check_nus_list(os.path.join(dataset, name), name)
        label_list = os.path.join(dataset, "label_list.txt")
        if not os.path.isfile(label_list):
            with open(label_list, "w") as f:
                f.writelines(f"{i} {name}\n" for i, name in enumerate(NUS_CLASSES))
    return os.path.join(out_root, "NUS-WIDE-SCENE")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="dataset", required=True)
    cifar = sub.add_parser("cifar100", help="CIFAR-100 as in the PaddleClas tutorial")
    cifar.add_argument("--from", dest="source", help="local CIFAR100.tar or cifar-100-python.tar.gz")
    cifar.add_argument("--url", default=CIFAR100_URL, help="download address (when --from is not given)")
    cifar.add_argument("--out", default="dataset", help="dataset root (default: dataset)")
    nus = sub.add_parser("nus-wide-scene", help="NUS-WIDE-SCENE multi-label (33 labels) as in the tutorial")
    nus.add_argument("--from", dest="source", help="local NUS-WIDE-SCENE.tar")
    nus.add_argument("--url", default=NUS_URL, help="download address (when --from is not given)")
    nus.add_argument("--out", default="dataset", help="dataset root (default: dataset)")
    weights = sub.add_parser("weights", help="the tutorial's pretrained .pdparams files")
    weights.add_argument("--out", default="pretrained", help="folder (default: pretrained)")
    weights.add_argument("--base_url", default=None, help="where <name>.pdparams live (default: PaddleClas's)")
    weights.add_argument("--names", nargs="+", default=None, help="subset of the tutorial's file stems")
    weights.add_argument("--force", action="store_true", help="download even when the file is present")
    args = parser.parse_args(argv)
    if args.dataset == "weights":
        return _weights(args)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = args.source or download(args.url, tmp)
            prepare = prepare_cifar100 if args.dataset == "cifar100" else prepare_nus_wide_scene
            out = prepare(source, args.out)
    except PrepareError as e:
        print(f"prepare_dataset: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


def _weights(args):
    from kclass.errors import WeightsError
    from kclass.weights import pretrained
    try:
        pretrained.download(args.names or pretrained.TUTORIAL, args.out,
                            base_url=args.base_url or pretrained.BASE_URL, force=args.force)
    except WeightsError as e:
        print(f"prepare_dataset: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    from kclass import cuda_probe
    cuda_probe.install()  # `cifar100 --from cifar-100-python.tar.gz` writes PNGs with TF
    sys.exit(main())
