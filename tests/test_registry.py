"""The registry: decorator registration, did-you-mean, and plugins found through entry points."""
from __future__ import annotations

import json
import textwrap

import pytest

from support import run_cli
from harness.errors import HarnessError
from harness.registry import Registry


def test_register_get_and_close_matches():
    reg = Registry("widget", "harness.test_widgets_none")

    @reg.register("sprocket")
    class Sprocket:
        pass

    assert reg.get("sprocket") is Sprocket
    with pytest.raises(HarnessError) as err:
        reg.get("sprockte")
    assert "did you mean sprocket" in str(err.value)
    with pytest.raises(HarnessError, match="two widgets"):
        reg.add("sprocket", object())


def _install_fake_distribution(site, name: str, module_source: str, entry_points: str) -> None:
    """What pip leaves behind for an installed package: the module and its .dist-info."""
    (site / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


PLUGIN = '''
    from pathlib import Path
    from harness.data import DataSource
    from harness.metrics.base import MeanMetric
    from harness.models.base import ModelInfo
    from harness.requests import Classification, ClassifyRequest
    from harness.spec import TaskConfig

    HERE = Path(__file__).parent

    def parity_task():
        return TaskConfig(name="parity", kind="classify", data=DataSource(path=HERE / "parity.jsonl"),
                          prompt="{text}", answer="label", metrics=("accuracy", "always_half"))

    class AlwaysHalf(MeanMetric):
        name_ = "always_half"
        description_ = "0.5 for every example (a plugin metric)"

        @staticmethod
        def example_score(prediction, reference):
            return 0.5

    class ParityModel:
        """Says 'even' when the text has an even number of characters."""
        supports = frozenset({ClassifyRequest})
        info = ModelInfo(kind="parity", device="cpu", dtype="none", parameters=0, labels=("even", "odd"))
        def token_count(self, text): return len(text)
        def classify(self, requests):
            return [Classification("even" if len(r.text) % 2 == 0 else "odd") for r in requests]
        def loglikelihood(self, requests): raise NotImplementedError
        def generate(self, requests): raise NotImplementedError

    def parity_model(spec, options):
        return ParityModel()
'''

ENTRY_POINTS = '''
    [harness.tasks]
    parity = harness_parity_plugin:parity_task
    [harness.metrics]
    always_half = harness_parity_plugin:AlwaysHalf
    [harness.models]
    parity-model = harness_parity_plugin:parity_model
'''


def test_plugin_outside_the_repo_is_found_through_entry_points(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_fake_distribution(site, "harness_parity_plugin", PLUGIN, ENTRY_POINTS)
    rows = [{"id": str(i), "text": "x" * i, "label": "even" if i % 2 == 0 else "odd"} for i in range(1, 11)]
    (site / "parity.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {"PYTHONPATH": str(site)}

    listed = run_cli("list", "tasks", env=env)
    assert listed.returncode == 0 and "parity" in listed.stdout
    assert "parity-model" in run_cli("list", "models", env=env).stdout
    assert "always_half" in run_cli("list", "metrics", env=env).stdout

    proc = run_cli("run", "--model", "parity-model", "--tasks", "parity", "--out", str(tmp_path / "out"), "--no-probes", env=env)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(next((tmp_path / "out").glob("*/results.json")).read_text())
    metrics = results["models"]["parity-model"]["tasks"]["parity"]["metrics"]
    assert metrics["accuracy"]["value"] == 1.0
    assert metrics["always_half"]["value"] == 0.5
