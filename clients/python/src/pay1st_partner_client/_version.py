"""The client's version: the bundle's version (tests/ship/test_versions.py keeps every copy equal)."""

__version__ = "1.0.0"
