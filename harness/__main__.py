"""`python -m harness`: the same entry point as the `harness` command."""
from harness.cli import entry

entry()
