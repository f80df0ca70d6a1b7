"""What the Snakefile asks of the core, computed once when the DAG is built.

``Pipeline(config)`` reads the validated params (Snakemake's ``config``) with the recipe and
corpus registries and answers the rule files' questions: which corpora exist or can be built
here, which plan settings each recipe builds (doce selectors, checked before any job runs),
the final files of ``rule all``, the inputs of the generic table rule. ``workflow/rules/common.smk``
creates one and the rule files call it; no rule file decides any of this itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from audiopipe.corpora import registry as corpus_registry
from audiopipe.pipeline import registry
from audiopipe.pipeline.plans import Plan, SelectorError, Setting, applied_recipes, load_plans, resolve

#: the files the generic table rule writes for each plan
TABLE_FILES = ("table.md", "table.csv", "table.png", "table.json")


class PipelineError(ValueError):
    """The params describe a DAG that cannot be built (the message names the key or term)."""


def fixtures_path(config: dict) -> Path | None:
    """The fixtures folder: ``$AUDIOPIPE_FIXTURES`` if set, else params ``fixtures``; None when
    the folder is not there (it holds ``README.md``)."""
    from audiopipe.demo import fixtures_dir

    return fixtures_dir(os.environ.get("AUDIOPIPE_FIXTURES") or config.get("fixtures") or "")


class Pipeline:
    """The resolved pipeline of a params dict.

    Raises
    ------
    PipelineError
        A plan factor that overrides no key, a selector term naming an unknown plan, factor or
        level, a selection that matches nothing, a selected plan whose data cannot be had, an
        unknown corpus.
    """

    def __init__(self, config: dict, log=None):
        self.config = config
        self.log = log or (lambda msg: print(f"audiopipe: {msg}", file=sys.stderr))
        self.fixtures = fixtures_path(config)
        self.recipes = {n: r for n, r in registry.recipes().items() if n in config}
        self.plans: dict[str, dict[str, Plan]] = {}
        for name, decl in self.recipes.items():
            try:
                self.plans[name] = load_plans(config[name])
                decl.check_plans(config[name], self.plans[name])
            except ValueError as e:
                raise PipelineError(f"params: {e}") from None
        self._check_corpora()
        for r in config.get("recipes") or []:
            if r not in self.recipes:
                raise PipelineError(f"params: recipes: {r!r} has no params section or no recipe module "
                                    f"(recipes: {', '.join(registry.recipe_names())})")
        selector = config.get("select") or ""
        try:
            chosen = resolve(self.plans, selector, {r: config[r].get("select") for r in self.recipes})
            asked = applied_recipes(self.plans, selector)
        except SelectorError as e:
            raise PipelineError(f"select: {e}") from None
        self.selected: dict[str, list[Setting]] = {}
        self.skipped: dict[str, dict[str, str]] = {}
        for r, settings in chosen.items():
            keep = []
            for plan in dict.fromkeys(s.plan for s in settings):
                why = self.recipes[r].unavailable(self, self.plans[r][plan]) if self.recipes[r].unavailable else None
                if why is None:
                    keep += [s for s in settings if s.plan == plan]
                elif r in asked:
                    raise PipelineError(f"select: {r} plan {plan!r} cannot run here: {why}")
                else:
                    self.skipped.setdefault(r, {})[plan] = why
            self.selected[r] = keep

    # ------------------------------------------------------------------------ corpora

    def _check_corpora(self) -> None:
        """Every configured corpus is registered; its options and demo options are parameters of
        its adapter and demo builder."""
        from audiopipe.demo import BUILDERS
        from audiopipe.pipeline.provenance import parameters_of

        for name, spec in (self.config.get("corpora") or {}).items():
            if name not in corpus_registry.CORPORA:
                raise PipelineError(f"params: corpora.{name}: no such corpus adapter "
                                    f"(corpora: {', '.join(sorted(corpus_registry.CORPORA))})")
            c = corpus_registry.get(name)
            bad = sorted(set(spec) - set(corpus_registry.SPEC_KEYS) - set(c.options()))
            if bad:
                raise PipelineError(f"params: corpora.{name}: unknown key(s) {bad} "
                                    f"(root, demo, or options of {c.prepare}: {c.options()})")
            demo = spec.get("demo")
            if demo not in (None, False):
                if name not in BUILDERS:
                    raise PipelineError(f"params: corpora.{name}.demo: {name} has no demo builder "
                                        f"(demos: {', '.join(sorted(BUILDERS))})")
                if isinstance(demo, dict):
                    params = parameters_of(BUILDERS[name])[3:]
                    bad = sorted(set(demo) - set(params))
                    if bad:
                        raise PipelineError(f"params: corpora.{name}.demo: unknown key(s) {bad} "
                                            f"(options of {BUILDERS[name]}: {params})")

    def corpus(self, name: str) -> dict:
        """``{root, demo (dict or None), options}`` of params ``corpora.<name>``.

        Raises
        ------
        PipelineError
            If the corpus is not configured or not registered.
        """
        spec = (self.config.get("corpora") or {}).get(name)
        if spec is None:
            raise PipelineError(f"params: corpora.{name} is not configured (a recipe reads it)")
        if name not in corpus_registry.CORPORA:
            raise PipelineError(f"params: corpora.{name}: no such corpus adapter "
                                f"(corpora: {', '.join(sorted(corpus_registry.CORPORA))})")
        demo = spec.get("demo")
        return {"root": corpus_registry.resolve_root(str(spec["root"]), self.fixtures),
                "demo": None if demo in (None, False) else dict(demo) if isinstance(demo, dict) else {},
                "options": {k: v for k, v in spec.items() if k not in corpus_registry.SPEC_KEYS}}

    def corpus_unavailable(self, name: str) -> str | None:
        """Why a corpus cannot be had here (no root and no demo that can be built), or None."""
        from audiopipe.demo import unavailable as demo_unavailable

        c = self.corpus(name)
        if c["demo"] is not None:
            why = demo_unavailable(name, self.fixtures)
            return f"corpora.{name}: {why}" if why else None
        if "{fixtures}" in str(self.config["corpora"][name]["root"]) and self.fixtures is None:
            return f"corpora.{name}.root lies in the fixtures, which are not here"
        if not Path(c["root"]).exists():
            return f"corpora.{name}.root {c['root']!r} does not exist"
        return None

    def corpus_ready(self, name: str) -> list[str]:
        """Input that proves a corpus root complete: its ``DEMO.json`` for a demo corpus."""
        c = self.corpus(name)
        return [f"{c['root']}/DEMO.json"] if c["demo"] is not None else []

    def manifest(self, name: str, split: str | None = None) -> str:
        """Path of a corpus manifest written by the generic corpus rule.

        Raises
        ------
        PipelineError
            If the corpus has no such split.
        """
        files = corpus_registry.get(name).manifests(self.corpus(name)["options"])
        if split not in files:
            raise PipelineError(f"corpora.{name} has no manifest for split {split!r} (splits: "
                                f"{', '.join(str(s) for s in files)})")
        return f"{corpus_registry.manifest_dir(name)}/{files[split]}"

    def manifests(self, name: str) -> list[str]:
        """Every manifest the corpus rule writes for ``name``."""
        files = corpus_registry.get(name).manifests(self.corpus(name)["options"])
        return [f"{corpus_registry.manifest_dir(name)}/{f}" for f in files.values()]

    def corpora_used(self) -> list[str]:
        """Configured corpora (each gets a prepare rule and, with ``demo``, a demo rule)."""
        return sorted(self.config.get("corpora") or {})

    # ------------------------------------------------------------------------ recipes

    def recipe_unavailable(self, recipe: str) -> str | None:
        """Why a recipe cannot run here (a corpus it reads cannot be had), or None."""
        decl = self.recipes[recipe]
        for c in decl.corpus_names(self.config[recipe]):
            why = self.corpus_unavailable(c)
            if why:
                return why
        return None

    def settings(self, recipe: str, plan: str | None = None) -> list[Setting]:
        """Selected settings of a recipe (of one plan)."""
        return [s for s in self.selected.get(recipe, []) if plan is None or s.plan == plan]

    def setting(self, recipe: str, plan: str, setting_id: str) -> Setting:
        """A setting of a plan from its identifier (any setting of the plan, selected or not)."""
        return self.plans[recipe][plan].setting(setting_id)

    def setting_config(self, recipe: str, plan: str, setting_id: str) -> dict:
        """The recipe's params section with the setting's override factors applied."""
        return self.recipes[recipe].setting_config(self.config[recipe], self.setting(recipe, plan, setting_id))

    def selected_plans(self, recipe: str) -> list[str]:
        return list(dict.fromkeys(s.plan for s in self.settings(recipe)))

    def table_files(self, recipe: str, plan: str) -> list[str]:
        return [f"results/{recipe}/{plan}/{f}" for f in TABLE_FILES]

    def table_inputs(self, recipe: str, plan: str) -> list[str]:
        """Result files the table of a plan reads: every selected setting's and every baseline's
        ``metrics.json``."""
        decl = self.recipes[recipe]
        out = [f"results/{recipe}/{plan}/{s.id}/metrics.json" for s in self.settings(recipe, plan)]
        out += [f"results/{recipe}/{d}/metrics.json" for d in decl.baseline_dirs(self.config[recipe]).values()]
        return out

    def runnable(self, recipes: list[str] | None = None) -> list[str]:
        """The recipes of ``recipes`` (default: params ``recipes``) that can run here; the others
        are reported once."""
        out = []
        for r in recipes if recipes is not None else (self.config.get("recipes") or []):
            why = self.recipe_unavailable(r)
            if why:
                self.log(f"{r} skipped: {why}")
            else:
                out.append(r)
        return out

    def targets(self, recipes: list[str] | None = None) -> list[str]:
        """Final files of ``rule all``: each runnable recipe's plan tables and extra targets."""
        out = []
        for r in self.runnable(recipes):
            for plan, why in self.skipped.get(r, {}).items():
                self.log(f"{r} plan {plan!r} skipped: {why}")
            for plan in self.selected_plans(r):
                out += self.table_files(r, plan)
            decl = self.recipes[r]
            if decl.extra_targets:
                out += decl.extra_targets(self)
        return out
