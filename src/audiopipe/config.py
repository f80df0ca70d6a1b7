"""Load and validate ``params.yaml``, the one configuration (Snakemake configfile + DVC params).

The schema is ``workflow/schemas/params.schema.yaml``; it may ``$ref`` sibling files
(``{"$ref": "clarity.schema.yaml"}``), one per recipe, which are inlined before validation.
Every object in the schema sets ``additionalProperties: false``, so an unknown key is an error.
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
    """Load a schema, inlining ``$ref`` to sibling YAML files (recursively)."""
    path = Path(path)

    def inline(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                sub = yaml.safe_load((path.parent / ref).read_text())
                return inline(sub)
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(yaml.safe_load(path.read_text()))


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


def validate_params(cfg: dict, schema_path: str | Path, check_paths: bool = True) -> dict:
    """Validate ``cfg`` against the schema and check corpus roots; fill schema defaults.

    Parameters
    ----------
    cfg : dict
        The loaded params.
    schema_path : path-like
        ``workflow/schemas/params.schema.yaml``.
    check_paths : bool
        Check that each ``corpora.<name>.root`` exists unless ``demo: true`` (the DAG builds it).

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
    schema = load_schema(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        raise ConfigError(f"params: {_key_path(e)}: {e.message}{more}")
    if check_paths:
        for name, spec in (cfg.get("corpora") or {}).items():
            if spec.get("enabled", True) and not spec.get("demo", False) and not Path(spec["root"]).exists():
                raise ConfigError(
                    f"params: corpora.{name}.root: corpus root {spec['root']!r} does not exist "
                    f"(point it at your download, or set corpora.{name}.demo: true)"
                )
    return cfg
