"""`harness list`: each name once."""
from __future__ import annotations

from harness.cli import main


def test_list_probes_prints_each_probe_once(capsys):
    assert main(["list", "probes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert len(names) == len(set(names)) >= 8 and "robustness" in names
    for line in lines:
        assert line.split().count(line.split()[0]) == 1, line        # the plugin name is not repeated beside it
