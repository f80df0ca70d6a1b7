"""doce-style experimental plans: factors with levels, setting identifiers, selectors.

A *plan* is a named set of factors, each with a list of levels and optionally a default level.
A *setting* picks one level per factor. Its identifier follows doce (Lagrange et al., "doce: a
python package for the design of computational experiments"): ``factor=value`` pairs sorted by
factor name and joined by ``+``, **default levels omitted** — so adding a factor whose default is
the old behaviour keeps every old identifier, and old results stay valid. The setting whose
factors are all at their default has the identifier ``default``.

Plans are declared in ``params.yaml`` under each recipe::

    clarity:
      plans:
        convtasnet:
          factors: {lr: [0.001, 0.0005], X: [7, 4]}
          default: {lr: 0.001, X: 7}

Selectors use doce's syntax: ``plan/factor=value+factor2=value2``; several terms chained with
``:`` select the union; a value list is written ``factor=v1,v2``; a bare plan name selects the
whole plan; a term without ``plan/`` applies to every plan that has the named factors. A plan
name shared by several recipes can be qualified with the recipe: ``sar_ssl/paper/task=DRR``.

Selector mistakes are errors (:class:`SelectorError`) that name the term at fault: an unknown
plan, an unknown factor, a level that is not in the plan, a selection that matches nothing.

Values reach jobs as plain Python types (``int``, ``float``, ``str``, ``bool``), never numpy
scalars — the gap that Snakemake's ``Paramspace`` leaves.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

DEFAULT_ID = "default"


class SelectorError(ValueError):
    """A doce selector names an unknown plan, factor or level, or selects nothing.

    The message names the selector term at fault and what it could have named.
    """


def format_value(v) -> str:
    """Format a level as it appears in an identifier (``0.001``, ``128``, ``true``, ``gLN``)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return repr(v)  # keep "1.0" distinct from int 1
    return str(v)


def _plain(v):
    """Convert numpy scalars and the like into plain Python values."""
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):
        return v.item()
    return v


@dataclass(frozen=True)
class Setting:
    """One point of a plan: ``values`` maps every factor to its level."""

    plan: str
    values: dict
    default: dict = field(default_factory=dict, compare=False)

    @property
    def id(self) -> str:
        """doce identifier: sorted non-default ``factor=value`` joined by ``+``, or ``default``."""
        parts = [
            f"{k}={format_value(v)}"
            for k, v in sorted(self.values.items())
            if not (k in self.default and format_value(self.default[k]) == format_value(v))
        ]
        return "+".join(parts) or DEFAULT_ID

    def __hash__(self) -> int:
        return hash((self.plan, self.id))


@dataclass
class Plan:
    """A named factor grid.

    Parameters
    ----------
    name : str
    factors : dict
        factor name -> list of levels (plain scalars).
    default : dict
        factor name -> default level (omitted from identifiers). A default need not be among the
        levels.
    extra : dict
        Other keys of the plan's declaration (e.g. SAR-SSL's ``sets``), kept for the recipe.

    Raises
    ------
    ValueError
        If a factor has no levels, a level is not a scalar, or a default names an unknown factor.
    """

    name: str
    factors: dict
    default: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.factors = {k: [_plain(v) for v in lv] if isinstance(lv, list) else lv
                        for k, lv in self.factors.items()}
        self.default = {k: _plain(v) for k, v in self.default.items()}
        for k, levels in self.factors.items():
            if not isinstance(levels, list) or not levels:
                raise ValueError(f"plan {self.name!r}: factor {k!r} needs a non-empty list of levels")
            for v in levels:
                if not isinstance(v, (int, float, str, bool)):
                    raise ValueError(f"plan {self.name!r}: level {v!r} of {k!r} is not a scalar")
            if any(c in format_value(v) for v in levels for c in "+=/:,"):
                raise ValueError(f"plan {self.name!r}: levels of {k!r} may not contain + = / : ,")
        unknown = set(self.default) - set(self.factors)
        if unknown:
            raise ValueError(f"plan {self.name!r}: default names unknown factor(s) {sorted(unknown)}")

    def settings(self) -> list[Setting]:
        """All settings of the grid, in factor-declaration order."""
        keys = list(self.factors)
        return [
            Setting(self.name, dict(zip(keys, combo)), self.default)
            for combo in itertools.product(*(self.factors[k] for k in keys))
        ]

    def setting(self, identifier: str) -> Setting:
        """Parse an identifier back into a setting (missing factors take their default).

        Raises
        ------
        KeyError
            If the identifier names an unknown factor or level of this plan.
        """
        values = {}
        if identifier != DEFAULT_ID:
            for part in identifier.split("+"):
                k, _, v = part.partition("=")
                if k not in self.factors:
                    raise KeyError(f"plan {self.name!r} has no factor {k!r} (identifier {identifier!r})")
                match = [lv for lv in self.factors[k] if format_value(lv) == v]
                if not match:
                    raise KeyError(f"plan {self.name!r}: {v!r} is not a level of {k!r}")
                values[k] = match[0]
        for k in self.factors:
            if k not in values:
                if k not in self.default:
                    raise KeyError(f"plan {self.name!r}: identifier {identifier!r} lacks {k!r}, which has no default")
                values[k] = self.default[k]
        return Setting(self.name, {k: values[k] for k in self.factors}, self.default)


def load_plans(section: dict) -> dict[str, Plan]:
    """Build the plans declared in a recipe's params section (``section["plans"]``)."""
    plans = {}
    for name, spec in (section.get("plans") or {}).items():
        extra = {k: v for k, v in spec.items() if k not in ("factors", "default")}
        plans[name] = Plan(name, dict(spec.get("factors") or {}), dict(spec.get("default") or {}), extra)
    return plans


# ----------------------------------------------------------------------------- selectors


@dataclass(frozen=True)
class Term:
    """One ``:``-separated term of a selector: ``[[recipe/]plan/][factor=v1,v2+...]``."""

    text: str
    recipe: str | None
    plan: str | None
    conditions: dict

    def matches(self, recipe: str, s: Setting) -> bool:
        if self.recipe is not None and self.recipe != recipe:
            return False
        if self.plan is not None and self.plan != s.plan:
            return False
        return all(k in s.values and format_value(s.values[k]) in vs for k, vs in self.conditions.items())


def parse_selector(selector: str | None) -> list[Term]:
    """Parse a doce selector into its terms.

    ``plan``, ``plan/``, ``plan/f=v+g=w,x``, ``f=v`` and the recipe-qualified
    ``recipe/plan[/f=v]`` are accepted.

    Raises
    ------
    SelectorError
        If a term is malformed (a condition that is not ``factor=value``, too many ``/``).
    """
    terms = []
    for text in filter(None, (selector or "").split(":")):
        parts = text.split("/")
        body = parts[-1] if "=" in parts[-1] else ""
        names = [p for p in (parts[:-1] if "=" in parts[-1] else parts) if p != ""]
        if len(names) > 2 or "=" in "".join(names):
            raise SelectorError(f"selector term {text!r}: expected [recipe/]plan[/factor=value+...]")
        recipe, plan = (names[0], names[1]) if len(names) == 2 else (None, names[0] if names else None)
        cond: dict[str, list[str]] = {}
        for part in filter(None, body.split("+")):
            k, eq, v = part.partition("=")
            if not eq or not k or not v:
                raise SelectorError(f"selector term {text!r}: {part!r} is not factor=value")
            cond[k] = v.split(",")
        terms.append(Term(text, recipe, plan, cond))
    return terms


def _check_conditions(term: Term, plans: list[Plan], where: str) -> None:
    """Raise unless some plan of ``plans`` has every factor of the term with every level named."""
    for f, values in term.conditions.items():
        having = [p for p in plans if f in p.factors]
        if not having:
            known = sorted({k for p in plans for k in p.factors})
            raise SelectorError(f"selector term {term.text!r}: {where} has no factor {f!r} "
                                f"(factors: {', '.join(known) or 'none'})")
        for v in values:
            if not any(v in {format_value(lv) for lv in p.factors[f]} for p in having):
                levels = sorted({format_value(lv) for p in having for lv in p.factors[f]})
                raise SelectorError(f"selector term {term.text!r}: {v!r} is not a level of factor {f!r} "
                                    f"in {where} (levels: {', '.join(levels)})")


def _term_targets(term: Term, plans_by_recipe: dict[str, dict[str, Plan]]) -> dict[str, list[Plan]]:
    """recipe -> plans a term can select, after checking the term names existing things.

    Raises
    ------
    SelectorError
        Unknown recipe, unknown plan, unknown factor or level.
    """
    if term.recipe is not None and term.recipe not in plans_by_recipe:
        raise SelectorError(f"selector term {term.text!r}: unknown recipe {term.recipe!r} "
                            f"(recipes: {', '.join(sorted(plans_by_recipe))}; a condition is factor=value)")
    scope = {r: p for r, p in plans_by_recipe.items() if term.recipe in (None, r)}
    if term.plan is not None:
        out = {r: [p[term.plan]] for r, p in scope.items() if term.plan in p}
        if not out:
            known = "; ".join(f"{r}: {', '.join(p) or '(none)'}" for r, p in sorted(scope.items()))
            raise SelectorError(f"selector term {term.text!r}: no plan {term.plan!r} ({known})")
        ok, first = {}, None
        for r, ps in out.items():  # a plan name several recipes share: those whose plan fits
            try:
                _check_conditions(term, ps, f"plan {term.plan!r} of {r}")
                ok[r] = ps
            except SelectorError as e:
                first = first or e
        if not ok:
            raise first
        return ok
    out = {r: [p for p in ps.values() if all(f in p.factors for f in term.conditions)]
           for r, ps in scope.items()}
    out = {r: ps for r, ps in out.items() if ps}
    _check_conditions(term, [p for ps in out.values() for p in ps] or
                      [p for ps in scope.values() for p in ps.values()], "any plan")
    return out


def select(plans: dict[str, Plan], selector: str | None = None, recipe: str = "recipe") -> list[Setting]:
    """Settings of one recipe's ``plans`` matching ``selector`` (every setting when it is empty).

    Raises
    ------
    SelectorError
        If a term names an unknown plan, factor or level, or the selection is empty.
    """
    terms = parse_selector(selector)
    for t in terms:
        _term_targets(t, {recipe: plans})
    chosen = [s for p in plans.values() for s in p.settings()
              if not terms or any(t.matches(recipe, s) for t in terms)]
    if not chosen:
        raise SelectorError(f"selector {selector!r} selects no setting of {recipe}'s plans "
                            f"({', '.join(plans) or 'none declared'})")
    return chosen


def applied_recipes(plans_by_recipe: dict[str, dict[str, Plan]], selector: str | None) -> set[str]:
    """Recipes some term of ``selector`` applies to (their selection comes from it).

    Raises
    ------
    SelectorError
        As :func:`resolve`.
    """
    return {r for t in parse_selector(selector) for r in _term_targets(t, plans_by_recipe)}


def resolve(plans_by_recipe: dict[str, dict[str, Plan]], selector: str | None,
            own: dict[str, str | None]) -> dict[str, list[Setting]]:
    """The settings each recipe builds under a global selector.

    Each term of ``selector`` (``--config select=...``) is checked against every recipe's plans:
    it must name an existing recipe, plan, factor and level. A recipe that some term applies to
    builds the union of what those terms select; every other recipe builds what its own selector
    (``<recipe>.select`` in ``own``; empty = every setting) selects.

    Parameters
    ----------
    plans_by_recipe : dict
        recipe -> {plan name -> :class:`Plan`}.
    selector : str or None
        The global doce selector.
    own : dict
        recipe -> its own selector.

    Returns
    -------
    dict
        recipe -> selected settings, in plan and grid order.

    Raises
    ------
    SelectorError
        On the first term that names something unknown, or when a recipe's selection is empty.
    """
    terms = parse_selector(selector)
    applies: dict[str, list[Term]] = {r: [] for r in plans_by_recipe}
    for t in terms:
        for r in _term_targets(t, plans_by_recipe):
            applies[r].append(t)
    out = {}
    for r, plans in plans_by_recipe.items():
        if applies[r]:
            chosen = [s for p in plans.values() for s in p.settings()
                      if any(t.matches(r, s) for t in applies[r])]
            if not chosen:
                raise SelectorError(f"selector {selector!r} selects no setting of {r} "
                                    f"(terms {[t.text for t in applies[r]]})")
            out[r] = chosen
        else:
            try:
                out[r] = select(plans, own.get(r), r)
            except SelectorError as e:
                raise SelectorError(f"{r}.select: {e}") from None
    return out
