"""Write to a temp name beside the target, then rename: readers (another worker, TF-Serving, a resumed
run) see the old version or the new one, never half of one, and a crash leaves no partial file.

    atomic_write.text(path, "...")
    with atomic_write.file(path) as tmp:        # write tmp (any writer: open, save_weights, a download)
        ...
    with atomic_write.directory(path) as tmp:   # fill the folder tmp
        ...

The temp names start with a dot (TF-Serving ignores them: it loads all-digit directories only) and
sit in the target's folder, so the final rename never crosses file systems.
"""

import contextlib
import errno
import os
import shutil
import tempfile
from typing import Callable, Optional

PREFIX = ".tmp-"


@contextlib.contextmanager
def file(path: str, prefix: str = PREFIX):
    """Yields a temp path beside `path` (ending in its name, so writers that check the suffix, such as
    Keras's `.weights.h5`, accept it); renamed onto `path` when the block ends, removed if it raises."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix="-" + os.path.basename(path), dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def text(path: str, content: str, encoding: str = "utf-8") -> None:
    """Writes `content` to `path` atomically, flushed to disk before the rename."""
    with file(path) as tmp, open(tmp, "w", encoding=encoding) as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def directory(path: str, prefix: str = PREFIX, replace: bool = False,
              keep_existing: Optional[Callable[[str], bool]] = None):
    """Yields a new empty temp folder beside `path` that becomes `path` when the block ends.

    An existing `path` is kept (and the new copy dropped) when `keep_existing(path)` says so, else
    removed first when `replace`, else the rename fails with FileExistsError. The temp folder is removed
    whatever happens.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        yield tmp
        if os.path.exists(path):
            if keep_existing is not None and keep_existing(path):
                return
            if replace:
                shutil.rmtree(path)
        try:
            os.rename(tmp, path)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            # A non-empty `path`: another writer got there first.
            raise FileExistsError(e.errno, f"{path} exists, not replaced ({e.strerror})") from None
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
