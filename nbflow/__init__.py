"""nbflow: run Jupyter notebooks as reliable, scheduled production workflows."""

from .glue import glue

__version__ = "0.1.0"

__all__ = ["glue", "__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built lab extension lies (`jupyter labextension develop` reads this)."""
    return [{"src": "labextension", "dest": "nbflow"}]
