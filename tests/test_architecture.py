"""The architecture as checked facts: import-linter's contracts (pyproject.toml) and no import
cycle anywhere in core/ or tui/, each shown to fail on a deliberately bad import.

import-linter walks a package's folder; the editable install maps `bulk_transcribe.core` and
`.tui` onto folders outside `.pkgroot`, so the check runs on a copy laid out as installed.
"""

from __future__ import annotations

import ast
import builtins
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def installed_layout(dest: Path) -> Path:
    """`dest/bulk_transcribe/{__init__,core,tui}` and pyproject.toml, as a wheel would lay it out."""
    pkg = dest / "bulk_transcribe"
    pkg.mkdir(parents=True)
    shutil.copy(ROOT / ".pkgroot" / "__init__.py", pkg / "__init__.py")
    for top in ("core", "tui"):
        shutil.copytree(ROOT / top, pkg / top, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return pkg


def lint_imports(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=where, env={"PYTHONPATH": str(where), "PATH": ""},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    if not LINT.exists():
        pytest.fail("lint-imports is missing: install the test extra (pip install -e '.[test]')")
    return tmp_path_factory.mktemp("lint")


def test_the_contracts_hold(layout):
    where = layout / "as-is"
    installed_layout(where)
    done = lint_imports(where)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("module, bad, contract", [
    ("core/model.py", "from .run import engine", "core's rooms only import downward"),
    ("core/run/queue.py", "import textual", "The engine is reachable without the faces"),
    ("core/store/session.py", "from ...tui import app", "The engine is reachable without the faces"),
    ("core/sources/batch.py", "from ..deapi import client", "core's rooms only import downward"),   # siblings
])
def test_a_bad_import_breaks_its_contract(layout, module, bad, contract):
    where = layout / module.replace("/", "-")
    pkg = installed_layout(where)
    with open(pkg / module, "a", encoding="utf-8") as fh:
        fh.write(f"\n{bad}  # deliberately against the architecture\n")
    done = lint_imports(where)
    assert done.returncode != 0
    assert f"{contract} BROKEN" in done.stdout, done.stdout


def test_every_room_of_core_has_its_layer():
    """import-linter leaves a module that no layer names unchecked: a new room of core/ must be
    given its place in the order (pyproject.toml, core-layers) before it can be imported."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["id"] == "core-layers")["layers"]
    named = {part.strip() for layer in layers for part in re.split(r"[|:]", layer) if part.strip()}
    rooms = {p.stem for p in (ROOT / "core").glob("*.py") if p.stem not in ("__init__", "__main__")}
    rooms |= {p.parent.name for p in (ROOT / "core").glob("*/__init__.py")}
    assert rooms - named == set(), "rooms of core/ without a layer"
    assert named - rooms == set(), "layers naming no room of core/"


# -- cycles ------------------------------------------------------------------------------
def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> modules of the same tree it imports (any import: top level, in a function, or
    under TYPE_CHECKING; a cycle through any of them is still two rooms that lean on each other)."""
    files = {module_name(p, root): p for top in ("core", "tui") for p in (root / top).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    stem = ".".join(base + ([node.module] if node.module else []))
                elif (node.module or "").startswith("bulk_transcribe."):
                    stem = node.module.removeprefix("bulk_transcribe.")
                else:
                    continue
                # each name is a submodule (`from . import a, b`: both) or else a name of `stem`
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in files else stem for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name.removeprefix("bulk_transcribe.") for a in node.names
                           if a.name.startswith("bulk_transcribe.")]
            graph[mod].update(t for t in targets if t in files and t != mod)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_anywhere():
    graph = import_graph(ROOT)
    assert "core.run.engine" in graph and "tui.app" in graph
    assert cycles(graph) == []


def test_the_graph_has_every_module_of_a_multiple_import():
    """`from . import content, jobs, pricing, rules` is four edges, not one (a cycle through the
    last of them would otherwise go unseen)."""
    graph = import_graph(ROOT)
    assert {"core.simulator.content", "core.simulator.jobs", "core.simulator.pricing",
            "core.simulator.rules"} <= graph["core.simulator.state"]


def test_the_cycle_check_sees_a_cycle(tmp_path):
    for top in ("core", "tui"):
        shutil.copytree(ROOT / top, tmp_path / top, ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "core" / "run" / "video.py", "a", encoding="utf-8") as fh:
        fh.write("\n\ndef _bad():\n    from .engine import Engine  # deliberately circular\n")
    # engine imports video through upload too, so the cycle may hold more than the two
    assert any({"core.run.engine", "core.run.video"} <= set(c) for c in cycles(import_graph(tmp_path)))


# -- the map of exceptions ---------------------------------------------------------------
def exception_classes(root: Path) -> dict[str, str]:
    """Every class of core/ and tui/ that derives (by name, through the tree) from a built-in
    exception: name -> the file that defines it."""
    bases: dict[str, tuple[set[str], str]] = {}
    for top in ("core", "tui"):
        for path in (root / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    names = {b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                             if isinstance(b, (ast.Name, ast.Attribute))}
                    bases[node.name] = (names, str(path.relative_to(root)))
    builtin = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
    found: dict[str, str] = {}
    grew = True
    while grew:
        grew = False
        for name, (names, where) in bases.items():
            if name not in found and names & (builtin | set(found)):
                found[name] = where
                grew = True
    return found


def test_errors_py_maps_every_exception():
    """core/errors.py opens with the tree of every exception and where it lives: a new one is
    added there, so a reader finds them all in one place."""
    doc = ast.get_docstring(ast.parse((ROOT / "core" / "errors.py").read_text(encoding="utf-8")))
    found = exception_classes(ROOT)
    assert {"DeapiError", "SessionLocked", "UsageError", "UnknownEventKind"} <= set(found)
    missing = {name: where for name, where in found.items() if not re.search(rf"\b{name}\b", doc)}
    assert missing == {}, "exceptions missing from core/errors.py's map"


# -- the README's map ----------------------------------------------------------------------
FILE = re.compile(r"(?<![\w/.])([\w*]+\.(?:py|tcss))\b")
FOLDER = re.compile(r"(?<![\w/.])(\w+)/(?=\s|$)")


def readme_tree() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"## How it works\n+```\n(.*?)```", text, re.S)
    assert m, "no tree under '## How it works' in README.md"
    return m.group(1).splitlines()


def tree_sections(lines: list[str]) -> dict[tuple[str, str], str]:
    """(top folder, room folder or '') -> the text of its lines. A line at indent 2 opens a
    room when it starts with folders (`run/`, `screens/ widgets/`); else it names files of the
    top folder itself. Deeper lines continue the room above them."""
    sections: dict[tuple[str, str], str] = {}
    top, rooms = "", [""]
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0 and (m := FOLDER.match(line)):
            top, rooms = m.group(1), [""]
            continue
        if indent == 2:
            head = re.match(r"((?:\w+/\s+)+)", line.strip() + " ")
            rooms = FOLDER.findall(head.group(1)) if head else [""]
        for room in rooms:
            sections[(top, room)] = sections.get((top, room), "") + "\n" + line
    return sections


def test_the_readme_tree_names_only_real_files():
    for (top, room), text in tree_sections(readme_tree()).items():
        base = ROOT / top / room
        for name in FILE.findall(text):
            assert list(base.glob(name)) or list((ROOT / top).glob(name)), f"README names {top}/{room} {name}"
        for folder in FOLDER.findall(text):
            assert (ROOT / top / folder).is_dir() or (ROOT / folder).is_dir(), f"README names {folder}/"


def test_the_readme_tree_names_every_file_of_core_and_tui():
    """A newcomer finds every module from the map: each file of core/ and tui/ is named in its
    room's lines (the package files aside)."""
    sections = tree_sections(readme_tree())
    missing = []
    for top in ("core", "tui"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.name in ("__init__.py", "__main__.py"):
                continue
            rel = path.relative_to(ROOT / top)
            room = rel.parts[0] if len(rel.parts) > 1 else ""
            if path.name not in FILE.findall(sections.get((top, room), "")):
                missing.append(f"{top}/{rel}")
    assert missing == [], "files the README's 'How it works' does not name in their room"


# -- imports inside functions --------------------------------------------------------------
# Each import inside a function hides a dependency from a reader of the file's head; these are
# the ones with a reason. A new one is added here with its reason, or moved to the top.
LOCAL_IMPORTS_ALLOWED = {
    ("core/media/chunks.py", "av"): "PyAV is heavy: loaded by the worker that cuts a file",
    ("core/arenas.py", "ctypes"): "~8 ms: only on glibc, where the cap is set (not for --help or completion)",
    ("core/simulator/content.py", "io"): "with av, only when an upload's length is read",
    ("core/simulator/content.py", "av"): "PyAV is heavy: only when an upload's length is read",
    ("core/sources/captions.py", "yt_dlp.networking.exceptions"): "yt-dlp is heavy: loaded by the thread that needs it",
    ("core/sources/expand.py", "yt_dlp"): "yt-dlp is heavy: loaded by the thread that needs it",
    ("core/plan.py", ".deapi.client"): "httpx only when the plan really asks deAPI (tui/text.py imports plan)",
    ("core/simulator/__init__.py", ".config"): "the package root stays lazy (PEP 562 __getattr__)",
    ("core/simulator/__init__.py", ".server"): "the package root stays lazy (PEP 562 __getattr__)",
    ("tui/cli.py", ".commands"): "a subcommand's module is loaded when it runs: --help stays fast",
    ("tui/cli.py", "."): "`from . import remote`: the service commands' module, when one runs",
    ("tui/cli.py", "..core.service"): "the service's errors, when a service command runs",
    ("tui/cli.py", "..core.service.daemon"): "the service itself, when `bulk-transcribe service` runs",
    ("tui/commands.py", ".app"): "Textual: loaded only by the commands that open the app",
    ("tui/app.py", "textual.drivers._writer_thread"): "Textual's private writer, only after a hang-up",
}


def local_imports(root: Path) -> set[tuple[str, str]]:
    found = set()
    for top in ("core", "tui"):
        for path in sorted((root / top).rglob("*.py")):
            for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(fn):
                    where = str(path.relative_to(root))
                    if isinstance(node, ast.Import):
                        found |= {(where, a.name) for a in node.names}
                    elif isinstance(node, ast.ImportFrom):
                        found.add((where, "." * node.level + (node.module or "")))
    return found


def test_imports_inside_functions_are_only_the_ones_with_a_reason():
    assert local_imports(ROOT) - set(LOCAL_IMPORTS_ALLOWED) == set()
    assert set(LOCAL_IMPORTS_ALLOWED) - local_imports(ROOT) == set(), "allowed but gone: drop it from the list"


# -- ruff ----------------------------------------------------------------------------------
RUFF = Path(sys.executable).with_name("ruff")


def ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    if not RUFF.exists():
        pytest.fail("ruff is missing: install the test extra (pip install -e '.[test]')")
    return subprocess.run([str(RUFF), "check", "--no-cache", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_ruff_is_clean():
    """.ci/run runs it too; here the README's test command alone catches a lint error."""
    done = ruff(".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_fails_on_a_deliberately_bad_import(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "bad.py").write_text("import os\nimport sys\n\nprint(sys.argv)\n", encoding="utf-8")
    done = ruff(".", cwd=tmp_path)
    assert done.returncode != 0 and "F401" in done.stdout, done.stdout
