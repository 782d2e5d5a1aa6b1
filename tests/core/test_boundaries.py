"""The engine never imports a UI, and the headless path never loads Textual.

Checked in a fresh interpreter, so an import anywhere in the chain is caught."""

from __future__ import annotations

import subprocess
import sys

import pytest

ENGINE = [
    "bulk_transcribe.core.run.engine", "bulk_transcribe.core.run.video", "bulk_transcribe.core.deapi.client",
    "bulk_transcribe.core.limiter", "bulk_transcribe.core.store.session", "bulk_transcribe.core.prepare",
    "bulk_transcribe.core.simulator.server", "bulk_transcribe.core.sources.expand", "bulk_transcribe.core.plan",
]
HEADLESS = ["bulk_transcribe.tui.cli", "bulk_transcribe.tui.commands", "bulk_transcribe.tui.headless"]


def _loaded_after(modules: list[str]) -> set[str]:
    # click is installed here (the test extra's import-linter needs it), so httpx would load its
    # command-line tool (click, rich, pygments) if core/deapi did not stop it: that is checked too.
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("ui", ["textual", "rich"])
def test_engine_imports_no_ui(ui):
    assert ui not in _loaded_after(ENGINE)


def test_engine_never_imports_the_faces():
    code = (
        "import importlib, sys\n"
        f"for m in {ENGINE!r}: importlib.import_module(m)\n"
        "print(any(m.startswith('bulk_transcribe.tui') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_headless_command_does_not_load_textual():
    assert "textual" not in _loaded_after(HEADLESS)


def test_every_package_folder_is_listed_for_the_wheel():
    """setuptools installs only the packages pyproject names: a new folder left out would work
    in an editable install and be missing from a wheel."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"bulk_transcribe"}
    for top in ("core", "tui"):
        for init in (root / top).rglob("__init__.py"):
            parts = init.parent.relative_to(root).parts
            found.add(".".join(("bulk_transcribe", *parts)))
    assert found == listed


def test_every_module_imports():
    """A moved name breaks only the modules that import it; catch it even in ones no test runs."""
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    names = []
    for top in ("core", "tui"):
        for file in sorted((root / top).rglob("*.py")):
            parts = file.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts[-1] != "__main__":
                names.append(".".join(("bulk_transcribe", *parts)))
    assert "bulk_transcribe.core.limiter.bucket" in names and "bulk_transcribe.tui.app" in names
    for name in names:
        importlib.import_module(name)
