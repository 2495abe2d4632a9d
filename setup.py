"""Build-time mapping that pyproject.toml cannot express next to package discovery: the
repository's top-level ``recipes/`` folder (the one copy of the built-in recipes) is shipped
inside the package as ``degrade/recipes`` (found with importlib.resources at run time)."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["degrade", "degrade.*"]) + ["degrade.recipes"],
    package_dir={"degrade.recipes": "recipes"},
)
