"""Experiment files to resolved specs: reading and checking the YAML, the registries of torch's classes."""
