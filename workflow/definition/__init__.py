"""Workflow definitions: reading YAML, validating it, and the data classes it becomes."""
