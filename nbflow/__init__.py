"""nbflow: run Jupyter notebooks as reliable, scheduled production workflows."""

from .glue import glue

__version__ = "0.1.0"

__all__ = ["glue", "__version__"]
