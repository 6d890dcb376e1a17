"""Workflow files: YAML read with lines, the schema, the loader that builds the core model,
the catalog (a workflow by name or path), authoring, notebook parameters, secrets, the
project folder."""
