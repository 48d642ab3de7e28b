"""The house rules of docs/architecture.md, read from the page itself so the two cannot drift.

- The layer table (the page's first code block, highest layer first; modules on one line are
  one layer): a module imports only layers below its own, at module level or inside a function.
  Modules on one line do not import each other, except where the page says so (``SIDEWAYS``).
- What one module shares with another is public: no module imports another's ``_private`` names
  (a private module may be imported from inside its own package: ``fastdream.ops._native``
  from ``fastdream/ops/``, ``fastdream._checks`` from anywhere in ``fastdream/``).
- No file in ``fastdream/`` over 400 lines, no function over 80 (its docstring aside).

Every failure names the file, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fastdream"
DOC = ROOT / "docs" / "architecture.md"
MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 80
TOP = "fastdream"  # the package's own __init__/__main__: the public face, above every layer

#: Imports within one line of the table that the page allows, with the words that allow them:
#: the page must still say so for the exception to hold.
SIDEWAYS = {
    ("video", "dream"): "shared with the videos",
    ("style", "cutout"): "style uses cutout's predict_mask",
    ("video", "style"): "styled videos use style's Stylizer",
    ("cli", "ui"): "the ui command starts the web app",
    ("dreamer", "dream"): "the dreamer's contact sheet dreams with dream's run",
}


def layer_table(text: str) -> list[list[str]]:
    """The units of each line of the page's first code block, top line first: ``fastdream/io/``
    -> ``io``, ``fastdream/batch.py`` -> ``batch``; further units on a line (``style/``) follow
    the first, two spaces apart, and the description follows them."""
    block = re.search(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)
    assert block, f"{DOC}: no code block with the layer table"
    rows = []
    for line in block[1].splitlines():
        units = []
        for k, part in enumerate(re.split(r"\s{2,}", line.strip())):
            # The first is fastdream/NAME (a folder, a .py file, or the compiled _C); the others
            # are NAME/ or NAME.py; the first word of anything else starts the description.
            first = re.fullmatch(r"fastdream/[A-Za-z_]\w*(/|\.py)?", part)
            if not (first if k == 0 else re.fullmatch(r"[A-Za-z_]\w*(/|\.py)", part)):
                break
            units.append(re.sub(r"(/|\.py)$", "", part[len("fastdream/") :] if k == 0 else part))
        if units:
            rows.append(units)
    return rows


@dataclass(frozen=True)
class Module:
    path: Path  # fastdream/...py
    name: str  # fastdream.dream.engine
    is_package: bool  # an __init__.py

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]


def unit(name: str) -> str:
    """The layer-table unit of a module: ``fastdream.io.images`` -> ``io``."""
    parts = name.split(".")
    return TOP if len(parts) == 1 or parts[1] == "__main__" else parts[1]


def modules(root: Path = PACKAGE) -> list[Module]:
    out = []
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out.append(Module(path, ".".join(parts[:-1] if is_package else parts), is_package))
    return out


def is_module(name: str, root: Path = PACKAGE) -> bool:
    """Whether ``name`` (``fastdream.x.y``) is a module or package of ours (the compiled _C too)."""
    if name == "fastdream._C":
        return True
    path = root.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


@dataclass(frozen=True)
class Use:
    """One name of ours that a module uses: the module it comes from (``source``) and, for a
    name that is not a module, the name (``attr``)."""

    line: int
    source: str
    attr: str | None = None

    @property
    def text(self) -> str:
        return self.source + ("." + self.attr if self.attr else "")


def uses(mod: Module, tree: ast.AST, root: Path = PACKAGE) -> list[Use]:
    """Every import of a ``fastdream`` module or name, anywhere in the module, and every
    attribute read on a name bound to one of our modules (``ops._native``)."""
    found, bound = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "fastdream":
                    found.append(Use(node.lineno, a.name))
                    bound[a.asname or "fastdream"] = a.name if a.asname else "fastdream"
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = mod.package.split(".")
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
            if base.split(".")[0] != "fastdream":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                if is_module(sub, root):
                    found.append(Use(node.lineno, sub))
                    bound[a.asname or a.name] = sub
                else:
                    found.append(Use(node.lineno, base, None if a.name == "*" else a.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            source, sub = bound[node.value.id], f"{bound[node.value.id]}.{node.attr}"
            found.append(Use(node.lineno, sub) if is_module(sub, root) else Use(node.lineno, source, node.attr))
    return found


def private_violations(mod: Module, use: Use) -> list[str]:
    """A private module used from outside its package, or a private name of another module."""
    out = []
    parts = use.source.split(".")
    for k in range(1, len(parts)):
        if private(parts[k]):
            owner = ".".join(parts[:k])
            if mod.name != owner and not mod.name.startswith(owner + "."):
                out.append(
                    f"{mod.rel}:{use.line}: uses {use.text}: {'.'.join(parts[: k + 1])} is private to "
                    f"{owner}; make what it shares public"
                )
                break
    if use.attr and private(use.attr) and use.source != mod.name:
        out.append(f"{mod.rel}:{use.line}: uses {use.text}, a private name of {use.source}; make it public there")
    return out


def layer_violation(mod: Module, use: Use, rank: dict, doc: str) -> str | None:
    """An import that goes up the table, or sideways within a line without the page's leave."""
    src, dst = unit(mod.name), unit(use.source)
    if src in (dst, TOP) or src not in rank or dst not in rank:
        return None
    where = f"{mod.rel}:{use.line}: {mod.name} ({src}, line {rank[src] + 1} of the table) imports {use.text}"
    if rank[dst] < rank[src]:
        return f"{where} ({dst}, line {rank[dst] + 1}): a lower layer never imports a higher one"
    if rank[dst] == rank[src] and not (SIDEWAYS.get((src, dst)) and SIDEWAYS[(src, dst)] in doc):
        return f"{where}: {src} and {dst} are one layer and do not import each other (unless the page says so)"
    return None


def function_lengths(tree: ast.AST):
    """(line, name, lines) of every function, its docstring not counted."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                n -= first.end_lineno - first.lineno + 1
            yield node.lineno, node.name, n


# ------------------------------------------------------------------------------------------------
# the package


if not (DOC.is_file() and (PACKAGE / "__init__.py").is_file()):  # e.g. cibuildwheel's copy of tests/
    pytest.skip(
        "the house rules are checked in a source tree (docs/ and fastdream/ beside tests/)", allow_module_level=True
    )
DOC_TEXT = DOC.read_text()
TABLE = layer_table(DOC_TEXT)
RANK = {u: i for i, row in enumerate(TABLE) for u in row}
MODULES = modules()
TREES = {m: ast.parse(m.path.read_text(), str(m.path)) for m in MODULES}


def fail_with(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_the_page_has_a_layer_table():
    for unit_name in ("cli", "dream", "style", "io", "ops", "_C", "_checks"):
        assert unit_name in RANK, f"{DOC}: the layer table lost fastdream/{unit_name}"
    assert RANK["dream"] == RANK["style"] < RANK["io"] < RANK["ops"]


def test_the_table_names_every_module_and_only_modules_that_exist():
    units = {unit(m.name) for m in MODULES} - {TOP}
    fail_with(
        [
            f"{DOC.relative_to(ROOT)}: fastdream/{u} is in no line of the layer table; add it"
            for u in sorted(units - set(RANK))
        ]
        + [
            f"{DOC.relative_to(ROOT)}: the layer table names fastdream/{u}, which does not exist"
            for u in sorted(set(RANK) - units - {"_C"})
        ]
    )


def test_no_import_goes_up_or_sideways():
    fail_with([v for m in MODULES for use in uses(m, TREES[m]) if (v := layer_violation(m, use, RANK, DOC_TEXT))])


def test_no_module_uses_another_modules_private_names():
    fail_with([v for m in MODULES for use in uses(m, TREES[m]) for v in private_violations(m, use)])


def test_files_stay_under_400_lines():
    fail_with(
        [
            f"{m.rel}: {n} lines, over {MAX_FILE_LINES}: split it by what its parts hold"
            for m in MODULES
            if (n := len(m.path.read_text().splitlines())) > MAX_FILE_LINES
        ]
    )


def test_functions_stay_under_80_lines():
    fail_with(
        [
            f"{m.rel}:{line}: {name}() has {n} lines (docstring aside), over {MAX_FUNCTION_LINES}"
            for m in MODULES
            for line, name, n in function_lengths(TREES[m])
            if n > MAX_FUNCTION_LINES
        ]
    )


# ------------------------------------------------------------------------------------------------
# the checker itself, on made-up modules


@pytest.fixture
def fake(tmp_path):
    """A tiny package ``fastdream`` (io/, ops/ with a private _native, dream/, video/) and a
    function that checks the source of one more module in it against a three-line table."""
    for rel in (
        "__init__",
        "io/__init__",
        "io/images",
        "ops/__init__",
        "ops/_native",
        "dream/__init__",
        "video/__init__",
    ):
        (tmp_path / "fastdream" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fastdream" / rel).with_suffix(".py").write_text("")
    doc = "```\nfastdream/dream/  video/  pipelines, options shared with the videos\nfastdream/io/  x\nfastdream/ops/  y\n```"
    rank = {u: i for i, row in enumerate(layer_table(doc)) for u in row}

    def check(rel: str, source: str) -> list[str]:
        mod = Module(ROOT / "fastdream" / rel, "fastdream." + rel[:-3].replace("/", "."), False)
        found = uses(mod, ast.parse(source), tmp_path / "fastdream")
        layers = [v for u in found if (v := layer_violation(mod, u, rank, doc))]
        return layers + [v for u in found for v in private_violations(mod, u)]

    return check


def test_the_table_parses_lines_of_several_units():
    assert layer_table("```\nfastdream/a/  b/  c.py     text  with gaps\nfastdream/_C   many\nnot a row\n```") == [
        ["a", "b", "c"],
        ["_C"],
    ]


def test_the_checker_sees_imports_up_sideways_and_private(fake):
    assert fake("io/new.py", "from fastdream.ops import _native\n") == [
        "fastdream/io/new.py:1: uses fastdream.ops._native: fastdream.ops._native is private to fastdream.ops; "
        "make what it shares public"
    ]
    up = fake("io/new.py", "def f():\n    from fastdream.dream import run\n")
    assert len(up) == 1 and up[0].startswith("fastdream/io/new.py:2:") and "never imports a higher" in up[0]
    assert fake("video/new.py", "from fastdream import dream\n") == []  # the page allows it
    assert "one layer" in fake("dream/new.py", "import fastdream.video\n")[0]
    assert "private name of fastdream.io.images" in fake("dream/new.py", "from fastdream.io.images import _LUMA\n")[0]
    assert "private name" in fake("dream/new.py", "from fastdream.io import images\nimages._split(1)\n")[0]
    assert fake("ops/new.py", "from fastdream.ops import _native\nfrom . import _native as n\n") == []
    assert fake("io/new.py", "from ..ops import _native\n")[0].startswith(
        "fastdream/io/new.py:1: uses fastdream.ops._native"
    )


def test_function_lengths_leave_the_docstring_out():
    source = 'def f():\n    """Doc\n    string."""\n    a = 1\n    return a\n'
    assert list(function_lengths(ast.parse(source))) == [(1, "f", 3)]
