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

Selectors use doce's syntax: ``plan/factor=value+factor2=value2``; several selectors chained with
``:`` select the union; a value list is written ``factor=v1,v2``; a bare plan name selects the
whole plan; a selector without ``plan/`` applies to every plan that has the named factors.

Values reach jobs as plain Python types (``int``, ``float``, ``str``, ``bool``), never numpy
scalars — the gap that Snakemake's ``Paramspace`` leaves.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ID = "default"


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

    Raises
    ------
    ValueError
        If a factor has no levels, a level is not a scalar, or a default names an unknown factor.
    """

    name: str
    factors: dict
    default: dict = field(default_factory=dict)

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
            if any(c in format_value(v) for v in levels for c in "+=/:"):
                raise ValueError(f"plan {self.name!r}: levels of {k!r} may not contain + = / :")
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
        plans[name] = Plan(name, dict(spec.get("factors") or {}), dict(spec.get("default") or {}))
    return plans


def parse_selector(selector: str | None) -> list[tuple[str | None, dict[str, list[str]]]]:
    """Parse a doce selector into ``[(plan or None, {factor: [value strings]})]``.

    Raises
    ------
    ValueError
        If a term is not ``factor=value``.
    """
    if not selector:
        return []
    out = []
    for chunk in filter(None, selector.split(":")):
        if "/" not in chunk and "=" not in chunk:  # a bare plan name: the whole plan
            chunk += "/"
        plan, _, body = chunk.rpartition("/")
        cond: dict[str, list[str]] = {}
        for term in filter(None, body.split("+")):
            if "=" not in term:
                raise ValueError(f"selector {selector!r}: term {term!r} is not factor=value")
            k, v = term.split("=", 1)
            cond[k] = v.split(",")
        out.append((plan or None, cond))
    return out


def select(plans: dict[str, Plan], selector: str | None = None) -> list[Setting]:
    """Settings of ``plans`` matching ``selector`` (all settings when it is empty).

    Raises
    ------
    KeyError
        If the selector names an unknown plan.
    """
    terms = parse_selector(selector)
    for plan, _ in terms:
        if plan is not None and plan not in plans:
            raise KeyError(f"selector names unknown plan {plan!r}; plans: {sorted(plans)}")
    chosen: list[Setting] = []
    for p in plans.values():
        for s in p.settings():
            if not terms or any(_matches(s, plan, cond) for plan, cond in terms):
                chosen.append(s)
    return chosen


def _matches(s: Setting, plan: str | None, cond: dict[str, list[str]]) -> bool:
    if plan is not None and plan != s.plan:
        return False
    return all(k in s.values and format_value(s.values[k]) in vs for k, vs in cond.items())


def plan_command(argv: list[str]) -> int:
    """``audiopipe plan <recipe> [-s SELECTOR]``: list settings and their output directories."""
    ap = argparse.ArgumentParser(prog="audiopipe plan", description=plan_command.__doc__)
    ap.add_argument("recipe")
    ap.add_argument("-s", "--select", default=None, help="doce selector, e.g. 'convtasnet/lr=0.001'")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--json", action="store_true", help="print JSON instead of a list")
    a = ap.parse_args(argv)
    from audiopipe.config import load_params

    cfg = load_params(a.params)
    if a.recipe not in cfg:
        raise SystemExit(f"audiopipe plan: no section {a.recipe!r} in {a.params}")
    sel = select(load_plans(cfg[a.recipe]), a.select)
    if a.json:
        print(json.dumps([{"plan": s.plan, "id": s.id, "values": s.values} for s in sel], indent=2))
    else:
        for s in sel:
            print(f"results/{a.recipe}/{s.plan}/{s.id}/")
    return 0
