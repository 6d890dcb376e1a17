"""Databricks: job definitions imported and exported, Databricks notebooks run as they are.

`importer` turns a bundle or Jobs API job into a workflow file (its triggers in
`jobtriggers`, its tasks in `tasks`, `taskkinds` and `projectpaths`), `exporter` the other
way, `jobfile` reads the files they come in, and `source_notebook` converts Databricks
notebooks (source format `.py`, or `.ipynb` exported from Databricks) for papermill.
`dbutils` is the object notebooks and scripts use (an IPython extension every ipykernel
loads, `dbutils_extension`; one module per part: `dbutils_widgets`, `dbutils_jobs`,
`dbutils_notebook`), reading the task `context` the runner writes; `notebook_run` runs the
child of `dbutils.notebook.run`.
Nothing here needs the Databricks SDK, and nothing here is imported by `nbflow --help`.
"""
