"""`python -m nbflow.cli`."""

from . import main

main()
