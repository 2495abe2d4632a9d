"""Test plugin for degrade (see tests/test_plugins.py)."""
