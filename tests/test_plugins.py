"""Built-ins join the extension points exactly as a plugin package does: through entry points, here
harness's own in pyproject.toml; harness.plugins and harness.registry import no built-in, and no
import circle is left in the package."""
from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from support import REPO
from harness import plugins
from harness.registry import DISTRIBUTION, Lazy, Registry, _group, is_builtin

REGISTRIES = {name: r for name, r in vars(plugins).items() if isinstance(r, Registry)}
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]


def _harness_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("harness")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness"):
            out.add(node.module)
    return out


def test_the_registry_and_the_extension_points_import_no_built_in():
    assert _harness_imports(REPO / "harness" / "registry.py") == {"harness.errors", "harness.suggest"}
    assert _harness_imports(REPO / "harness" / "suggest.py") == set()          # the did-you-mean helper: a leaf
    assert _harness_imports(REPO / "harness" / "plugins.py") == {"harness.registry"}
    assert not hasattr(plugins, "load_builtins")


def test_no_built_in_registers_itself_in_code():
    """Registration is the entry points' job: no built-in module calls REGISTRY.register."""
    offenders = []
    for path in (REPO / "harness").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "register"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in REGISTRIES):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("name", sorted(REGISTRIES))
def test_every_built_in_is_an_entry_point_of_harness_read_like_a_plugins(name):
    """What pyproject.toml declares is what the installed metadata lists and what the registry holds:
    a lazy entry point, as a third-party plugin's is, imported only when looked up."""
    registry = REGISTRIES[name]
    declared = PYPROJECT.get(registry.group, {})
    installed = {ep.name: ep.value for ep in _group(registry.group) if is_builtin(ep)}
    assert installed == declared, "pip install -e . again after editing the entry points"
    assert bool(declared) == registry.builtin
    fresh = Registry(registry.kind, registry.group, registry.builtin)
    for entry, target in declared.items():
        item = fresh._items.get(entry) if fresh.names() else None
        assert isinstance(item, Lazy) and item.entry_point.value == target, entry
        assert item.entry_point.dist.metadata["Name"] == DISTRIBUTION
        assert fresh.get(entry) is item.resolve()


def test_a_third_party_entry_point_is_lazy_and_cannot_replace_a_built_in(tmp_path, monkeypatch):
    from test_registry import _install_fake_distribution
    _install_fake_distribution(tmp_path, "harness_zz_probe_plugin", '''
        """A plugin probe package."""
        class Nothing:
            """Probes nothing (a plugin)."""
            name, params = "nothing", ()
        class Impostor:
            """Claims a built-in's name."""
    ''', '''
        [harness.probes]
        zz-nothing = harness_zz_probe_plugin:Nothing
        safety = harness_zz_probe_plugin:Impostor
    ''')
    monkeypatch.syspath_prepend(str(tmp_path))
    _group.cache_clear()
    try:
        probes = Registry("probe", "harness.probes", builtin=True)
        assert "zz-nothing" in probes.names() and "harness_zz_probe_plugin" not in sys.modules
        assert probes.describe("zz-nothing") == "Probes nothing (a plugin)."          # read without import
        assert probes.origin("zz-nothing") == "entry point harness_zz_probe_plugin:Nothing"
        assert "harness_zz_probe_plugin" not in sys.modules
        assert probes.get("zz-nothing").__name__ == "Nothing"
        assert probes.get("safety").__module__ == "harness.probes.safety"              # harness's own came first
    finally:
        _group.cache_clear()
        sys.modules.pop("harness_zz_probe_plugin", None)


def test_without_harness_installed_the_error_says_to_install_it():
    """A checkout that was never `pip install`ed has no entry points: one line saying so, exit 2."""
    with pytest.raises(Exception, match="no built-in probe is registered"):
        Registry("probe", "harness.no_such_group", builtin=True).names()
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from harness.cli import main; "
            "sys.exit(main(['list', 'models']))")
    proc = subprocess.run([sys.executable, "-S", "-c", code, str(REPO)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "no built-in" in proc.stderr and "pip install -e ." in proc.stderr
