"""nbflow: run Jupyter notebooks as reliable, scheduled production workflows."""

__version__ = "0.1.0"
