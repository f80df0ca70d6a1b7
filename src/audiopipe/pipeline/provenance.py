"""Code provenance: the digest of the code each stage runs, so that a code change reruns what it affects.

Snakemake does not track the Python modules a rule's command imports. audiopipe gives every job
a ``code`` parameter: the digest of

* the stage function itself and the functions and constants of its module that it uses,
  transitively;
* every ``audiopipe`` module those import (at module level, or inside the functions), transitively,
  whole modules, with the ``__init__`` of each package on the way;
* the versions of the third-party distributions those modules import (``torch``, ``pyclarity``,
  ``pyroomacoustics``, ``museval`` ...), and the Python version.

Sources are normalised before hashing: they are parsed and dumped as abstract syntax trees with
docstrings removed, so comments, docstrings and formatting do not count. Snakemake's ``params``
rerun trigger (on by default) then reruns exactly the jobs whose stage code changed:
``snakemake -n`` lists them, with the reason "Params have changed". The same closure gives the
``deps`` of every DVC stage (:mod:`audiopipe.pipeline.dvc`).

``audiopipe code-digest RECIPE STAGE --explain`` prints a stage's digest and what it covers.
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import importlib.metadata
import sys
from pathlib import Path

import audiopipe

SRC = Path(audiopipe.__file__).resolve().parent  # .../src/audiopipe


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def normalised(node: ast.AST) -> str:
    """The AST dump of ``node`` without docstrings, positions or comments."""
    return ast.dump(_strip_docstrings(node), include_attributes=False)


def module_file(name: str) -> Path | None:
    """Source file of an ``audiopipe`` module (without importing it), or None."""
    parts = name.split(".")
    if parts[0] != "audiopipe":
        return None
    base = SRC.joinpath(*parts[1:])
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(nodes: list[ast.AST], module: str) -> tuple[set[str], set[str]]:
    """(audiopipe modules, third-party top-level names) imported anywhere inside ``nodes``."""
    own, third = set(), set()
    package = module if module_file(module) and module_file(module).name == "__init__.py" else module.rpartition(".")[0]
    for top in nodes:
        for n in ast.walk(top):
            if isinstance(n, ast.Import):
                names = [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom):
                base = n.module or ""
                if n.level:
                    anchor = package.split(".")[: len(package.split(".")) - (n.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in n.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "audiopipe":
                    if module_file(name):
                        own.add(name)
                elif name and name.split(".")[0] not in sys.stdlib_module_names:
                    third.add(name.split(".")[0])
    return own, third


def _with_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1) if module_file(".".join(parts[:i]))}


@functools.lru_cache(maxsize=None)
def module_closure(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(audiopipe modules, third-party names) a whole module depends on, transitively."""
    seen: set[str] = set()
    third: set[str] = set()
    todo = sorted(_with_parents(name))
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        own, t = _imports([_parse(module_file(m))], m)
        third |= t
        for o in own:
            todo += [x for x in _with_parents(o) if x not in seen]
    return frozenset(seen), frozenset(third)


def _function_parts(func) -> tuple[list[str], set[str], set[str]]:
    """Normalised sources of ``func`` and the same-module definitions it uses, transitively, and
    the (audiopipe modules, third-party names) those import or reference."""
    module = func.__module__
    tree = _parse(module_file(module))
    defs: dict[str, ast.AST] = {}
    imported: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        defs.setdefault(n.id, node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                imported[(a.asname or a.name).split(".")[0]] = node
    parts, nodes, seen = [], [], set()
    todo = [func.__name__]
    while todo:
        name = todo.pop()
        if name in seen or (name not in defs and name not in imported):
            continue
        seen.add(name)
        node = defs.get(name) or imported[name]
        nodes.append(node)
        if name in defs:
            parts.append(normalised(node))
            todo += [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
            todo += [n.value.id for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)]
    own, third = _imports(nodes, module)
    return parts, own, third


@functools.lru_cache(maxsize=None)
def _dist_versions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def package_versions(names: set[str]) -> dict[str, str]:
    """``distribution -> version`` of third-party top-level import names (unknown ones skipped)."""
    out = {}
    for n in sorted(names):
        for dist in _dist_versions().get(n, []):
            try:
                out[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
    return out


def stage_closure(func) -> dict:
    """What a stage's digest covers: ``function`` parts, ``modules`` (audiopipe), ``packages``."""
    parts, own, third = _function_parts(func)
    modules: set[str] = set()
    for m in own | _with_parents(func.__module__) - {func.__module__}:
        mods, t = module_closure(m)
        modules |= mods
        third |= t
    modules.discard(func.__module__)
    return {"function": f"{func.__module__}:{func.__qualname__}", "parts": parts,
            "modules": sorted(modules), "packages": package_versions(third)}


def files(closure: dict) -> list[str]:
    """Source files of a closure, relative to the repository root (``src/audiopipe/...``)."""
    root = SRC.parent.parent
    mods = closure["modules"] + [closure["function"].split(":")[0]]
    return sorted({str(module_file(m).relative_to(root)) for m in mods})


@functools.lru_cache(maxsize=None)
def _module_digest(name: str) -> str:
    return hashlib.sha256(normalised(_parse(module_file(name))).encode()).hexdigest()


def digest(func) -> str:
    """The code digest of a stage function (16 hex digits)."""
    c = stage_closure(func)
    h = hashlib.sha256()
    h.update(f"python {sys.version_info[0]}.{sys.version_info[1]}\n".encode())
    for p in c["parts"]:
        h.update(p.encode())
    for m in c["modules"]:
        h.update(f"{m} {_module_digest(m)}\n".encode())
    for d, v in c["packages"].items():
        h.update(f"{d}=={v}\n".encode())
    return h.hexdigest()[:16]


def parameters_of(spec: str) -> list[str]:
    """Parameter names of the function named ``module:function``, read from its source (the module
    is not imported, so checking params against heavy modules stays fast).

    Raises
    ------
    KeyError
        If the module or function cannot be found.
    """
    mod, _, fn = spec.partition(":")
    path = module_file(mod)
    if path is None:
        raise KeyError(f"{spec}: no such audiopipe module")
    for node in _parse(path).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == fn:
            a = node.args
            return [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    raise KeyError(f"{spec}: no function {fn!r} in {path}")


def digest_of(spec: str) -> str:
    """The code digest of a function named ``module:function`` (corpus adapters, demo builders)."""
    import importlib

    mod, _, fn = spec.partition(":")
    return digest(getattr(importlib.import_module(mod), fn))


def corpus_digest(name: str) -> str:
    """The code digest of a corpus adapter (:mod:`audiopipe.corpora.registry`)."""
    from audiopipe.corpora.registry import get

    return digest_of(get(name).prepare)


def demo_digest(name: str) -> str:
    """The code digest of a demo builder (:mod:`audiopipe.demo`)."""
    from audiopipe.demo import BUILDERS

    return digest_of(BUILDERS[name])


def run_fingerprint(func, params: dict, files=()) -> str:
    """Fingerprint of one run of a training stage: its code digest, its parameters and the bytes
    of its input files (SHA-256, streamed). The training engine keeps it in every checkpoint and
    resumes only a checkpoint of the same fingerprint, so a job rerun because its code, params
    or data changed trains afresh, while a job rerun after a crash resumes. It depends on
    contents only (not on paths or modification times), so the same inputs give the same
    checkpoint bytes wherever the job runs.
    """
    import json

    h = hashlib.sha256(digest(func).encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    for f in files:
        fh = hashlib.sha256()
        with open(f, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                fh.update(block)
        h.update(fh.digest())
    return h.hexdigest()[:16]


def stage_digest(recipe: str, stage: str) -> str:
    """The code digest of a recipe's stage (see :func:`digest`).

    Raises
    ------
    KeyError
        Unknown stage (naming the recipe's stages).
    """
    from audiopipe.pipeline.registry import get

    decl = get(recipe)
    if stage not in decl.stages:
        raise KeyError(f"recipe {recipe!r} has no stage {stage!r} (stages: {', '.join(decl.stages)})")
    return digest(decl.stages[stage])


def code_digest_command(argv: list[str]) -> int:
    """``audiopipe code-digest RECIPE STAGE [--explain]``: a stage's code digest."""
    ap = argparse.ArgumentParser(prog="audiopipe code-digest", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe")
    ap.add_argument("stage")
    ap.add_argument("--explain", action="store_true", help="list the modules and packages it covers")
    a = ap.parse_args(argv)
    from audiopipe.pipeline.registry import get

    print(stage_digest(a.recipe, a.stage))
    if a.explain:
        c = stage_closure(get(a.recipe).stages[a.stage])
        print(f"function: {c['function']} ({len(c['parts'])} definitions of its module)")
        print("modules:\n" + "".join(f"  {m}\n" for m in c["modules"]), end="")
        print("packages:\n" + "".join(f"  {d}=={v}\n" for d, v in c["packages"].items()), end="")
    return 0


__all__ = ["digest", "stage_digest", "stage_closure", "files", "module_closure", "normalised"]
