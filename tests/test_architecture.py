"""The layout's rules, checked on the source: one-way imports, thin pages, no back-references."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "detector"
HEAVY = {"numpy", "scipy", "librosa", "sklearn", "torch", "soundfile", "soxr", "pandas", "skops"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """The detector modules ``path`` imports, type-only imports (``if TYPE_CHECKING``) and function-level ones included.

    ``from P import name`` counts as importing ``P.name`` when that is a module, else ``P``.
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "detector"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "detector":
                continue
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "attach":  # lazy_loader.attach
            for keyword in node.keywords:
                if keyword.arg == "submod_attrs":
                    found |= {f"{package}.{key}" for key in ast.literal_eval(keyword.value)}
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports(path) for name, path in MODULES.items()}


def cycles() -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), plus self-loops."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_cycle():
    assert len(MODULES) > 40  # the walk found the package
    assert cycles() == []


def test_the_graph_sees_type_only_relative_and_lazy_imports():
    assert "detector.features.track" in GRAPH["detector.features.vectors"]
    assert "detector.layers.clap.htsat" in GRAPH["detector.layers.clap.encoder"]  # under TYPE_CHECKING and in functions
    assert {"detector.analysis", "detector.layers.heuristics"} <= GRAPH["detector"]  # lazy_loader.attach's names


def _layer(module: str) -> int:
    """The stage a module belongs to; imports may only point to the same stage or one below."""
    order = ["types", "errors", "_version", "config", "files", "metrics", "synthetic", "audio", "features", "layers",
             "analysis", "report", "history", "lru", "plots", "training", "jobs", "serving", "cli", "bench_scan", "bench", "fingerprint_study",
             "__main__"]
    parts = module.split(".")
    return order.index(parts[1]) if len(parts) > 1 else len(order)


def test_imports_flow_downstream_only():
    # report sits beside analysis: analysis builds reports, the report schema needs nothing above layers
    allowed_up = {("detector.analysis", "detector.report")}
    upward = [(m, d) for m, deps in GRAPH.items() for d in deps
              if _layer(d) > _layer(m) and not any(m.startswith(a) and d.startswith(b) for a, b in allowed_up)]
    assert upward == []


def test_only_the_clap_layer_imports_torch():
    """The CLAP layer, and the small decoders that make known-answer test material (never the analysis)."""
    users = sorted(m for m, p in MODULES.items() if "torch" in _third_party(p))
    allowed = ("detector.layers.clap", "detector.synthetic.decoders", "detector.bench")
    assert all(m.startswith(allowed) for m in users), users


def test_the_analysis_never_imports_the_synthetic_material():
    users = sorted(m for m, deps in GRAPH.items() for d in deps if d.startswith("detector.synthetic"))
    assert all(m.startswith(("detector.synthetic", "detector.bench", "detector.fingerprint_study")) for m in users), users


def _third_party(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_pages_only_draw():
    """Pages and the entry point import Streamlit and the detector, never the numeric libraries."""
    for path in [ROOT / "dashboard.py", *sorted((ROOT / "pages").glob("*.py"))]:
        assert not _third_party(path) & HEAVY, f"{path.name} imports {sorted(_third_party(path) & HEAVY)}"


def test_no_module_is_a_grab_bag():
    """A module past 450 lines has usually grown a second job (the benchmark script aside)."""
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    assert not [m for m, n in sizes.items() if n > 450 and m != "detector.bench"], sizes


FIRST_PAGE_SPARES = ("scipy.stats", "scipy.signal", "scipy.ndimage", "sklearn", "pandas", "torch", "skops", "ray",
                     "pyarrow", "numba")
"""Libraries the dashboard's first page has no use for: analyses, tables, training and scans import them where used."""


def test_the_first_page_imports_no_heavy_library():
    """What every page imports before it draws (``python -m detector.bench --startup`` times the first page)."""
    code = "import sys, streamlit, pages._serving, pages._shared, detector; print(' '.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    assert not [m for m in loaded if m.split(".")[0] in FIRST_PAGE_SPARES or m.startswith(FIRST_PAGE_SPARES)]


def test_the_warm_up_loads_what_the_first_page_spared():
    """The dashboard's background warm-up leaves the first real analysis nothing to import."""
    code = ("import sys; from detector.analysis.warmup import warm_up; warm_up(); "
            "print(' '.join(sys.modules))")
    loaded = set(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.split())
    assert {"scipy.stats", "scipy.signal", "scipy.ndimage", "numba"} <= loaded


def test_the_lazy_names_resolve():
    """Every name that a package's ``lazy_loader.attach`` promises exists in the module it names."""
    import importlib

    for package in ("detector", "detector.jobs", "detector.jobs.scan", "detector.training"):
        module = importlib.import_module(package)
        assert [name for name in module.__all__ if getattr(module, name, None) is None] == [], package
