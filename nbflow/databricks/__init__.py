"""Databricks: job definitions imported and exported, Databricks notebooks run as they are.

`importer` turns a bundle or Jobs API job into a workflow file, `exporter` the other way,
`jobfile` reads the files they come in, and `source_notebook` converts Databricks
notebooks (source format `.py`, or `.ipynb` exported from Databricks) for papermill.
Nothing here needs the Databricks SDK, and nothing here is imported by `nbflow --help`.
"""
