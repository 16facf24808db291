"""The evaluation report: what a model gets wrong, and how sure it is when it does.

NumPy in, files out, no Gin: `single_label.write` and `multi_label.write` take the
per-image rows evaluation gathered (kclass.experiment.evaluate with `report_dir`) and write the tables,
figures and report.json into a folder. The pieces (confusion, calibration, mistakes, plots, gallery)
are usable on their own; `summaries` writes the same views as TensorBoard summaries while training runs.
"""
