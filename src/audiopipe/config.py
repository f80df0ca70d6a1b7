"""Load and validate ``params.yaml``, the one configuration (Snakemake configfile + DVC params).

The schema is ``workflow/schemas/params.schema.yaml`` (the core keys: ``recipes``, ``fixtures``,
``select``, ``corpora``) completed from the recipe registry: the ``recipes`` list may name every
registered recipe, and each recipe's section is validated by ``workflow/schemas/<recipe>.schema.yaml``.
Schemas may ``$ref`` sibling files (``plans.schema.yaml``, optionally with a JSON pointer), which
are inlined before validation. Every object in the schemas sets ``additionalProperties: false``,
so an unknown key is an error that names its path.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml


class ConfigError(ValueError):
    """params.yaml is invalid; the message names the key path at fault (e.g. ``clarity.train.lr``)."""


def load_params(path: str | Path) -> dict:
    """Read a YAML params file into a dict.

    Raises
    ------
    ConfigError
        If the file is missing or is not a YAML mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    cfg = yaml.safe_load(path.read_text())
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: expected a YAML mapping at top level")
    return cfg


def load_schema(path: str | Path) -> dict:
    """Load a schema, inlining every ``$ref``: to sibling YAML files (``file.yaml#/pointer``) and
    within a file (``#/$defs/...``), recursively, so the result is one self-contained schema."""
    path = Path(path)

    def resolve(doc: dict, pointer: str):
        node = doc
        for part in filter(None, pointer.split("/")):
            node = node[part]
        return node

    def inline(node, doc):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                fname, _, pointer = ref.partition("#")
                if fname:
                    doc = yaml.safe_load((path.parent / fname).read_text())
                sub = dict(resolve(doc, pointer))
                sub.pop("$schema", None)
                return inline(sub, doc)
            return {k: inline(v, doc) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [inline(v, doc) for v in node]
        return node

    root = yaml.safe_load(path.read_text())
    return inline(root, root)


def _key_path(err: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in err.absolute_path]
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        parts.append(",".join(extra))
        return ".".join(parts) + " (unknown key)"
    if err.validator == "required":
        missing = [m for m in err.validator_value if m not in err.instance]
        parts.append(",".join(missing))
        return ".".join(parts) + " (missing key)"
    return ".".join(parts) or "<top level>"


def params_schema(schema_path: str | Path) -> dict:
    """The full params schema: the core schema plus one section per registered recipe.

    Raises
    ------
    ConfigError
        If a registered recipe has no ``<recipe>.schema.yaml`` beside the core schema.
    """
    from audiopipe.pipeline.registry import recipe_names

    schema_path = Path(schema_path)
    schema = load_schema(schema_path)
    names = recipe_names()
    schema["properties"]["recipes"]["items"] = {"enum": names}
    for name in names:
        path = schema_path.parent / f"{name}.schema.yaml"
        if not path.is_file():
            raise ConfigError(f"recipe {name!r}: its params schema {path} is missing")
        sub = load_schema(path)
        sub.pop("$schema", None)
        schema["properties"][name] = sub
    return schema


def validate_params(cfg: dict, schema_path: str | Path, check_paths: bool = True) -> dict:
    """Validate ``cfg`` against the schema and check corpus roots; fill schema defaults.

    Parameters
    ----------
    cfg : dict
        The loaded params.
    schema_path : path-like
        ``workflow/schemas/params.schema.yaml``.
    check_paths : bool
        Check that each ``corpora.<name>.root`` of a corpus some listed recipe reads exists
        unless it is a demo corpus (the DAG builds it) or lies in the fixtures.

    Returns
    -------
    dict
        ``cfg`` itself.

    Raises
    ------
    ConfigError
        On the first error (wrong type, unknown key, missing key, missing corpus root), naming
        the key path.
    """
    schema = params_schema(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        raise ConfigError(f"params: {_key_path(e)}: {e.message}{more}")
    if check_paths:
        from audiopipe.pipeline.registry import recipes

        used = {c for r, decl in recipes().items() if r in (cfg.get("recipes") or []) and r in cfg
                for c in decl.corpus_names(cfg[r])}
        for name, spec in (cfg.get("corpora") or {}).items():
            root = str(spec["root"])
            if name in used and spec.get("demo") in (None, False) and "{fixtures}" not in root and not Path(root).exists():
                raise ConfigError(
                    f"params: corpora.{name}.root: corpus root {root!r} does not exist "
                    f"(point it at your download, or give corpora.{name} a demo)"
                )
    return cfg
