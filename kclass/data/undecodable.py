"""Listed files that do not decode as images: left out (on_bad_image='skip') or named in a one-line error."""

import contextlib
import os
import sys
from typing import Optional

import tensorflow as tf

from kclass import atomic_write
from kclass.data import lists, scan
from kclass.errors import DataError


def drop_undecodable(samples: lists.Samples, model_dir: Optional[str], split: str) -> lists.Samples:
    """Samples without the files that do not decode (on_bad_image='skip'); those are listed in
    MODEL_DIR/skipped_images_<split>.txt, or on stderr when `model_dir` is None (evaluation writes nothing).
    """
    bad = set(scan.undecodable(samples.paths))
    if not bad:
        return samples
    skipped = [samples.paths[i] for i in sorted(bad)]
    if model_dir is None:
        for path in skipped:
            print(f"skipped (undecodable): {path}", file=sys.stderr, flush=True)
        where = "listed above"
    else:
        where = os.path.join(model_dir, f"skipped_images_{split}.txt")
        atomic_write.text(where, "".join(f"{path}\n" for path in skipped))
        where = f"listed in {where}"
    print(f"on_bad_image=skip: {len(bad)} undecodable {split} image(s) skipped, {where}", flush=True)
    keep = [i for i in range(len(samples)) if i not in bad]
    return lists.Samples([samples.paths[i] for i in keep], samples.labels[keep], samples.source)


def undecodable_error(samples: lists.Samples) -> Optional[DataError]:
    """A one-line DataError naming the first file of `samples` that does not decode, or None."""
    bad = scan.undecodable(samples.paths)
    if not bad:
        return None
    more = f"; {len(bad) - 1} more of its files do not decode either" if len(bad) > 1 else ""
    return DataError(f"{samples.paths[bad[0]]} (listed in {samples.source}) cannot be decoded as an image{more}; "
                     "fix or remove it, or set Experiment.on_bad_image='skip' to leave such files out")


@contextlib.contextmanager
def named_on_failure(samples: Optional[lists.Samples]):
    """Inside, a TF error caused by an undecodable file of `samples` becomes `undecodable_error`'s one
    line instead of a stack trace; any other error passes unchanged. Files are scanned only on failure:
    a second decode pass costs nothing otherwise."""
    try:
        yield
    except tf.errors.OpError:
        error = samples and undecodable_error(samples)
        if not error:
            raise
        raise error from None
