"""Plan expansion for the transcoder and STRF recipes (doce-style setting identifiers).

``plans: {<plan>: {factors: {factor: [levels]}, default: {factor: level}}}``. A setting's
identifier joins ``factor=value`` pairs sorted by factor name with ``+``, omitting factors at
their default level; the all-default setting is named ``default``. This mirrors the convention
the orchestration issue's ``audiopipe.plans`` implements, and can be replaced by its
``plan_settings`` once merged.
"""

from __future__ import annotations

import itertools


def setting_id(setting: dict, default: dict) -> str:
    """``factor=value`` pairs of non-default levels, sorted by factor, joined by ``+``."""
    parts = [f"{k}={setting[k]}" for k in sorted(setting) if default.get(k) != setting[k]]
    return "+".join(parts) or "default"


def plan_settings(section: dict) -> list[tuple[str, str, dict]]:
    """All ``(plan, setting id, {factor: level})`` of a recipe's configuration section.

    Raises
    ------
    ValueError
        If a plan's default names an unknown factor or a level outside the factor's levels.
    """
    out = []
    for plan, spec in section.get("plans", {}).items():
        factors, default = spec["factors"], spec.get("default", {})
        for k, v in default.items():
            if k not in factors or v not in factors[k]:
                raise ValueError(f"plan {plan!r}: default {k}={v!r} is not one of the factor's levels")
        names = sorted(factors)
        for combo in itertools.product(*(factors[n] for n in names)):
            s = dict(zip(names, combo))
            out.append((plan, setting_id(s, default), s))
    return out


def parse_setting_id(sid: str, default: dict) -> dict:
    """Inverse of :func:`setting_id`: the full ``{factor: level}`` (levels as strings).

    Raises
    ------
    ValueError
        If a part is not ``factor=value`` of a known factor, or the identifier is not canonical.
    """
    s = {k: str(v) for k, v in default.items()}
    if sid != "default":
        for part in sid.split("+"):
            k, eq, v = part.partition("=")
            if not eq or k not in s:
                raise ValueError(f"setting id {sid!r}: {part!r} is not factor=value of a factor in {sorted(s)}")
            s[k] = v
    if setting_id(s, {k: str(v) for k, v in default.items()}) != sid:
        raise ValueError(f"setting id {sid!r} is not canonical (sorted factors, defaults omitted)")
    return s
