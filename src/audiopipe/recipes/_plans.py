"""Plan expansion for the transcoder and STRF recipes (doce-style setting identifiers).

``plans: {<plan>: {factors: {factor: [levels]}, default: {factor: level}}}``. A setting's
identifier joins ``factor=value`` pairs sorted by factor name with ``+``, omitting factors at
their default level; the all-default setting is named ``default``. This mirrors the convention
the orchestration issue's ``audiopipe.plans`` implements, and can be replaced by its
``plan_settings`` once merged.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path


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


def write_plan_table(results_dir: Path, plan: str, section: dict) -> None:
    """Collect ``<results_dir>/<plan>/<setting id>/metrics.json`` of every setting of ``plan`` into
    ``table.csv``, ``table.md`` (one row per setting: factors and metrics) and ``plot.png`` (one
    bar chart per metric).

    Raises
    ------
    FileNotFoundError
        If a setting's ``metrics.json`` is missing (names the file).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from audiopipe.io import atomic_path

    rows, metric_cols = [], []
    for p, sid, s in plan_settings(section):
        if p != plan:
            continue
        path = Path(results_dir) / plan / sid / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: metrics of setting {sid!r} missing")
        m = json.loads(path.read_text())
        metric_cols += [k for k in m if k not in metric_cols and not k.startswith("n") and k != "teacher_pretrained"]
        rows.append({"setting": sid, **s, **m})
    df = pd.DataFrame(rows)
    out = Path(results_dir) / plan
    with atomic_path(out / "table.csv") as tmp:
        df.to_csv(tmp, index=False, float_format="%.4g")
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    for r in df.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r) + " |")
    with atomic_path(out / "table.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, len(metric_cols), figsize=(3.2 * len(metric_cols), 3.2), squeeze=False)
    for ax, c in zip(axes[0], metric_cols):
        ax.barh(df["setting"], df[c])
        ax.set_title(c)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    with atomic_path(out / "plot.png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
