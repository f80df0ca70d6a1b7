"""The recipe registry: one declaration per recipe, from which everything else follows.

A recipe is a module ``audiopipe.recipes.<name>`` that defines its stage functions and ends with
one declaration::

    RECIPE = Recipe(
        name="clarity",
        title="ICASSP 2023 Clarity: Conv-TasNet + NAL-R, HASPI/HASQI",
        stages={"cache": cache, "train": train, ...},
        overrides=("model", "train"),          # plan factors may set these params keys
        table=TableSpec(metrics=("haspi", "hasqi", "combined")),
        corpora=("clarity",),
    )

From the registry follow: the ``audiopipe`` command (one sub-command per recipe, one per stage),
the recipe list and per-recipe sections of the params schema, the Snakefile's rule-file includes
and ``rule all``, the selection of plan settings, the result tables, and ``dvc.yaml``. Adding a
recipe touches three files: ``src/audiopipe/recipes/<name>.py``, ``workflow/rules/<name>.smk``
and ``workflow/schemas/<name>.schema.yaml`` (``docs/adding-a-recipe.md``).

Recipe modules are imported to read their declarations, so they import only light modules at
the top (numpy, the standard library); torch, Lightning, h5py and the like are imported inside
the stage functions that need them. Modules of ``audiopipe.recipes`` whose names start with
``_`` are helpers, not recipes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from audiopipe.pipeline.plans import Plan, Setting


class RegistryError(ValueError):
    """A recipe module or declaration is malformed (the message names the module and field)."""


@dataclass(frozen=True)
class TableSpec:
    """How a recipe's plan tables and plots look (one writer for every recipe).

    Parameters
    ----------
    metrics : tuple of str
        Result columns shown, in order (empty: every numeric column of the results).
    lower_is_better : tuple of str
        Metrics whose smaller values are better (others: larger is better; the names ``mae``,
        ``mse``, ``der``, ``loss`` ... are recognised without being listed).
    x : str, optional
        Numeric factor on the plot's x axis (a line per ``hue`` level); bars when absent.
    hue : str, optional
        Factor whose levels are the series of the plot.
    panel : str, optional
        Factor whose levels get one panel each (else one panel per metric).
    """

    metrics: tuple[str, ...] = ()
    lower_is_better: tuple[str, ...] = ()
    x: str | None = None
    hue: str | None = None
    panel: str | None = None


@dataclass(frozen=True)
class Recipe:
    """The declaration of a recipe.

    Parameters
    ----------
    name : str
        Recipe name: params section, CLI sub-command, rule prefix, results folder.
    title : str
        One line for ``audiopipe --help``.
    stages : mapping
        Stage name (CLI sub-command, e.g. ``prepare-measured``) -> function with annotated
        keyword parameters and a numpydoc docstring.
    factors : mapping
        Plan factors the recipe interprets itself (name -> meaning), e.g. SAR-SSL's ``task``.
    levels : mapping
        Allowed levels of some recipe factors (name -> tuple), checked when the DAG is built.
    overrides : tuple of str
        Sub-sections of the recipe's params whose keys a plan factor may override (Clarity:
        ``model``, ``train``); :func:`setting_config` applies them.
    replicates : tuple of str
        Factors whose levels are repetitions (``trial``, ``fold``): tables pool the settings
        that differ only in them (mean ± std over the replicates).
    table : TableSpec
        Columns and plot layout of the plan tables.
    corpora : tuple of str or callable
        Corpora (keys of params ``corpora``) the recipe reads; a callable takes the recipe's
        params section.
    optional_corpora : callable, optional
        ``f(section) -> [names]``: corpora the recipe reads when they are here (SAR-SSL's
        measured-RIR sets, LOCATA); they enter its DVC stage's params.
    baselines : callable, optional
        ``f(section) -> {name: folder}``: systems outside the plans shown in every table of the
        recipe (folders relative to ``results/<recipe>/``, holding ``metrics.json``).
    extra_targets : callable, optional
        ``f(pipeline) -> [paths]``: final files besides the plan tables
        (``pipeline``: :class:`audiopipe.pipeline.workflow.Pipeline`).
    unavailable : callable, optional
        ``f(pipeline, plan) -> reason or None``: why a plan's data cannot be had here (the plan
        is then skipped with that message when selected by default, an error when asked for).
    check_plan : callable, optional
        ``f(plan)``: recipe-specific checks of a plan (raise ``ValueError`` naming the key).
    """

    name: str
    title: str
    stages: Mapping[str, Callable]
    factors: Mapping[str, str] = field(default_factory=dict)
    levels: Mapping[str, tuple] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()
    replicates: tuple[str, ...] = ()
    table: TableSpec = field(default_factory=TableSpec)
    corpora: tuple[str, ...] | Callable[[dict], list[str]] = ()
    optional_corpora: Callable[[dict], list[str]] | None = None
    baselines: Callable[[dict], dict[str, str]] | None = None
    extra_targets: Callable[[object], list[str]] | None = None
    unavailable: Callable[[object, Plan], str | None] | None = None
    check_plan: Callable[[Plan], None] | None = None

    def corpus_names(self, section: dict) -> list[str]:
        """Corpora this recipe reads under ``section`` (its params section)."""
        return list(self.corpora(section) if callable(self.corpora) else self.corpora)

    def baseline_dirs(self, section: dict) -> dict[str, str]:
        """Baseline systems: name -> folder relative to ``results/<recipe>/``."""
        return dict(self.baselines(section)) if self.baselines else {}

    def factor_names(self, section: dict) -> set[str]:
        """Every name a plan factor may take: the recipe's factors and the override keys."""
        names = set(self.factors)
        for sub in self.overrides:
            names |= set((section.get(sub) or {}).keys())
        return names

    def check_plans(self, section: dict, plans: dict[str, Plan]) -> None:
        """Check every plan's factors against the keys they override.

        Raises
        ------
        ValueError
            Naming the plan and factor when a factor is neither a recipe factor nor a key of an
            override section, or when the recipe's own plan check fails.
        """
        allowed = self.factor_names(section)
        for p in plans.values():
            for f in p.factors:
                if f not in allowed:
                    where = [f"{self.name}.{s}" for s in self.overrides]
                    raise ValueError(
                        f"{self.name}.plans.{p.name}.factors.{f}: not a factor of {self.name} "
                        f"(recipe factors: {', '.join(sorted(self.factors)) or 'none'}"
                        + (f"; or a key of {', '.join(where)}" if where else "") + ")")
                if f in self.levels:
                    bad = [v for v in p.factors[f] + ([p.default[f]] if f in p.default else [])
                           if v not in self.levels[f]]
                    if bad:
                        raise ValueError(f"{self.name}.plans.{p.name}.factors.{f}: level(s) {bad} not allowed "
                                         f"(levels: {', '.join(map(str, self.levels[f]))})")
            if p.extra and self.check_plan is None:
                raise ValueError(f"{self.name}.plans.{p.name}: unknown key(s) {sorted(p.extra)} "
                                 "(a plan has factors and default)")
            if self.check_plan is not None:
                try:
                    self.check_plan(p)
                except ValueError as e:
                    raise ValueError(f"{self.name}.plans.{p.name}: {e}") from None

    def setting_config(self, section: dict, setting: Setting) -> dict:
        """The recipe's params section with a setting's override factors applied.

        Factors that name a key of an ``overrides`` sub-section replace that key; the recipe's
        own factors are left to the recipe.

        Raises
        ------
        KeyError
            If a factor is neither a recipe factor nor an override key.
        """
        out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in section.items()}
        for f, v in setting.values.items():
            if f in self.factors:
                continue
            subs = [s for s in self.overrides if f in (section.get(s) or {})]
            if not subs:
                raise KeyError(f"plan factor {f!r} is neither a {self.name} factor nor a key of "
                               f"{', '.join(f'{self.name}.{s}' for s in self.overrides) or 'any section'}")
            out[subs[0]][f] = v
        return out


def recipe_names() -> list[str]:
    """Names of the recipe modules of ``audiopipe.recipes`` (sorted; ``_helpers`` excluded)."""
    import audiopipe.recipes as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def get(name: str) -> Recipe:
    """The declaration of one recipe.

    Raises
    ------
    RegistryError
        If no such recipe module exists, or it has no valid ``RECIPE`` declaration.
    """
    if name not in recipe_names():
        raise RegistryError(f"unknown recipe {name!r}; recipes: {', '.join(recipe_names())}")
    mod = importlib.import_module(f"audiopipe.recipes.{name}")
    decl = getattr(mod, "RECIPE", None)
    if not isinstance(decl, Recipe):
        raise RegistryError(f"audiopipe.recipes.{name}: no RECIPE = Recipe(...) declaration")
    if decl.name != name:
        raise RegistryError(f"audiopipe.recipes.{name}: RECIPE.name is {decl.name!r}, expected {name!r}")
    return decl


def recipes() -> dict[str, Recipe]:
    """Every registered recipe, by name."""
    return {n: get(n) for n in recipe_names()}
