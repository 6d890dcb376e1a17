"""Execution: the runner (the one place run state changes), attempts of each task kind, the
executor port with its local and Dask engines, workers, kernels, crash recovery."""
