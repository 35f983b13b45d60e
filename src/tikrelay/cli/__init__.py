"""The ``tikrelay`` command."""
