"""Moved to `kclass.export.spec` (see this package's docstring)."""

from kclass.export.spec import REJECT_FILE, THRESHOLDS_FILE, class_names  # noqa: F401
