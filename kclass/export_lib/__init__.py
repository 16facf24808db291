"""The old name of `kclass.export`, kept only for `kclass/experiment.py`'s imports of
`kclass.export_lib.spec`: delete this package when they name `kclass.export.spec`."""
