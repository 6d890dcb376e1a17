"""Stand-in for the default_python template's package: its `main` entry point."""

import sys

from nbflow import glue


def main():
    glue("argv", sys.argv[1:])
    print("default_python main ran")
