"""Harnesses the tests share: databases, emulators and the command, kept out of conftest files
so that tests import them like any module."""
