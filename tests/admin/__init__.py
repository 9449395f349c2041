"""The operator console's tests (a package: its conftest must not shadow tests/conftest.py,
whose helpers other tests import as ``conftest``)."""
