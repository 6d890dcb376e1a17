"""Prints its arguments and an environment variable, publishes them, exits with --exit."""

import argparse
import os
import sys

from nbflow import glue

parser = argparse.ArgumentParser()
parser.add_argument("--name", default="world")
parser.add_argument("--exit", type=int, default=0)
parser.add_argument("rest", nargs="*")
args = parser.parse_args()

print(f"hello {args.name}")
print(f"cwd={os.getcwd()}")
print("to stderr", file=sys.stderr)
glue("name", args.name)
glue("rest", args.rest)
glue("env", os.environ.get("NBFLOW_TEST_VAR"))
glue("python", sys.executable)
sys.exit(args.exit)
