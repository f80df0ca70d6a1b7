"""One writer for every recipe's result tables and plots (doce style).

``audiopipe table RECIPE --plan P --settings '[ids]'`` (the generic table rule) reads each
selected setting's results under ``results/<recipe>/<plan>/<setting>/``: per-item rows from
``scores.csv`` when it exists (scene-listener pairs, tracks, folds ...), else the values of
``metrics.json``. It writes ``results/<recipe>/<plan>/table.{md,csv,json,png}``:

* one row per setting, ``mean ± std`` per metric (population std, over the items of
  ``scores.csv``, or over the replicate settings — ``trial``, ``fold`` — that the recipe pools,
  or the ``<metric>_std`` given in ``metrics.json``), with the number of items or replicates;
* factors that are constant over the rows lifted into a header line;
* the best mean of each metric in bold (↑ higher or ↓ lower is better);
* the recipe's baselines and reference systems as rows of the same table and in the same plot;
* a plot: lines over a numeric factor (e.g. SAR-SSL's rooms, SFI's sampling rate) with one line
  per level of a hue factor and baselines as dashed lines, else bars per setting.

A table is written from results only: a missing result file is an error that names it, and no
empty table ever replaces a good one.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from audiopipe.io import atomic_path
from audiopipe.pipeline.plans import Plan, format_value

#: metric-name fragments whose smaller values are better; everything else is higher-better
LOWER_IS_BETTER = ("mse", "mae", "der", "error", "bce", "kl", "loss", "rmse", "wer", "miss", "false")


def higher_is_better(metric: str, lower: tuple[str, ...] = ()) -> bool:
    """Direction of a metric from its name (``haspi`` ↑, ``mae`` ↓, ``der`` ↓) or ``lower``."""
    if metric in lower:
        return False
    m = metric.lower()
    return not any(k in m.split("_") or m.startswith(k) for k in LOWER_IS_BETTER)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def read_result(folder: Path, metrics: tuple[str, ...] = ()) -> dict[str, tuple[float, float, int]]:
    """metric -> (mean, std, n) of one setting or baseline folder.

    Raises
    ------
    FileNotFoundError
        If the folder holds neither ``scores.csv`` nor ``metrics.json`` (naming it).
    """
    import pandas as pd

    scores, mfile = Path(folder) / "scores.csv", Path(folder) / "metrics.json"
    if scores.is_file():
        df = pd.read_csv(scores).select_dtypes("number")
        cols = [c for c in (metrics or df.columns) if c in df.columns]
        return {c: (float(df[c].mean()), float(df[c].std(ddof=0)), int(df[c].count())) for c in cols}
    if mfile.is_file():
        m = json.loads(mfile.read_text())
        n = int(m["n"]) if _is_number(m.get("n")) else 1
        keys = [k for k in (metrics or m) if k in m and (_is_number(m[k]) or m[k] is None)
                and not k.endswith("_std") and k != "n"]
        return {k: (float("nan") if m[k] is None else float(m[k]),
                    float(m[f"{k}_std"]) if _is_number(m.get(f"{k}_std")) else float("nan"), n) for k in keys}
    raise FileNotFoundError(f"{folder}: no scores.csv or metrics.json (result of this setting missing)")


def collect(plan: Plan, settings: list[str], plan_dir: Path, metrics: tuple[str, ...] = (),
            replicates: tuple[str, ...] = (), baselines: dict[str, Path] | None = None):
    """The table's rows as a DataFrame and the constant factors.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``system`` (``setting`` id, pooled id, or baseline name), the factors (empty for
        baselines), then ``<metric>``, ``<metric>_std``, ``<metric>_n`` per metric.
    constants : dict
        Factors with one level over the plan's rows (lifted into the header).

    Raises
    ------
    FileNotFoundError
        A selected setting or baseline without results.
    ValueError
        No setting given.
    """
    import pandas as pd

    if not settings:
        raise ValueError(f"plan {plan.name!r}: no setting selected, nothing to tabulate")
    factors = [f for f in plan.factors if f not in replicates]
    rows = []
    for sid in settings:
        s = plan.setting(sid)
        stats = read_result(Path(plan_dir) / sid, metrics)
        rows.append({"levels": s.values, "stats": stats})
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(format_value(r["levels"][f]) for f in factors), []).append(r)
    out = []
    for key, members in groups.items():
        levels = {f: members[0]["levels"][f] for f in factors}
        row = {"system": "+".join(f"{f}={format_value(levels[f])}" for f in factors
                                  if not (f in plan.default and format_value(plan.default[f]) == format_value(levels[f])))
               or "default", **levels}
        names = list(dict.fromkeys(k for m in members for k in m["stats"]))
        for k in names:
            vals = [m["stats"][k] for m in members if k in m["stats"]]
            if len(members) > 1:  # replicates: spread of the replicate means
                means = np.array([v[0] for v in vals], float)
                row.update({k: float(np.mean(means)), f"{k}_std": float(np.std(means)), f"{k}_n": len(means)})
            else:
                mean, std, n = vals[0]
                row.update({k: mean, f"{k}_std": std, f"{k}_n": n})
        out.append(row)
    for name, folder in (baselines or {}).items():
        stats = read_result(folder, metrics)
        row = {"system": name, **{f: None for f in factors}}
        for k, (mean, std, n) in stats.items():
            row.update({k: mean, f"{k}_std": std, f"{k}_n": n})
        out.append(row)
    df = pd.DataFrame(out)
    constants = {}
    n_plan = len(groups)
    if n_plan > 1:
        for f in factors:
            vals = {format_value(r[f]) for r in out[:n_plan]}
            if len(vals) == 1:
                constants[f] = out[0][f]
    return df, constants


def metric_names(df) -> list[str]:
    return [c for c in df.columns if f"{c}_std" in df.columns and f"{c}_n" in df.columns]


def _isnan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _cell(v) -> str:
    return "" if _isnan(v) else format_value(v)


def best_mask(df, metric: str, lower: tuple[str, ...] = (), group: str | None = None):
    """Rows holding the best value of ``metric`` (within each level of ``group``: a metric is
    only compared within one task, whose units it shares)."""
    import pandas as pd

    keys = df[group].astype(str) if group in df else pd.Series("", index=df.index)
    out = pd.Series(False, index=df.index)
    for _, idx in df.groupby(keys, dropna=False).groups.items():
        col = df.loc[idx, metric].dropna()
        if len(col):
            best = col.max() if higher_is_better(metric, lower) else col.min()
            out.loc[col.index[col == best]] = True
    return out


def to_markdown(title: str, df, constants: dict, lower: tuple[str, ...] = (), note: str = "",
                group: str | None = None) -> str:
    """doce-like Markdown: constant factors in a header line, ``mean ± std`` cells, best in bold
    (within each level of ``group``)."""
    metrics = metric_names(df)
    factors = [c for c in df.columns if c not in metrics and not c.endswith(("_std", "_n"))
               and c not in constants and c != "system"]
    lines = [f"# {title}", ""]
    if constants:
        lines += ["Constant: " + ", ".join(f"{k}={format_value(v)}" for k, v in constants.items()), ""]
    head = ["system", *factors] + [f"{m} {'↑' if higher_is_better(m, lower) else '↓'}" for m in metrics] + ["n"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    best = {m: best_mask(df, m, lower, group) for m in metrics}
    for i, r in df.iterrows():
        cells = [str(r["system"])] + [_cell(r[f]) for f in factors]
        for m in metrics:
            if _isnan(r[m]):
                cells.append("")
                continue
            s = f"{r[m]:.3f}" + ("" if _isnan(r[f"{m}_std"]) else f" ± {r[f'{m}_std']:.3f}")
            cells.append(f"**{s}**" if best[m][i] else s)
        ns = sorted({int(r[f"{m}_n"]) for m in metrics if not _isnan(r[f"{m}_n"])})
        cells.append("/".join(map(str, ns)))
        lines.append("| " + " | ".join(cells) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def to_json(df) -> dict:
    """``{system: {metric: mean, metric_std: std, metric_n: n}}`` (DVC metrics file)."""
    out = {}
    for _, r in df.iterrows():
        out[str(r["system"])] = {k: (None if _isnan(r[k]) else float(r[k]) if not k.endswith("_n") else int(r[k]))
                                 for k in df.columns if k in metric_names(df) or k.endswith(("_std", "_n"))}
    return out


def to_png(title: str, df, constants: dict, path: Path, spec, factors: list[str]) -> None:
    """The plan's plot (see the module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = metric_names(df) or []
    base = df[df["system"].isin(df.attrs.get("baselines", []))]
    plan_rows = df[~df["system"].isin(df.attrs.get("baselines", []))]
    panel_levels = list(dict.fromkeys(plan_rows[spec.panel])) if spec.panel in factors else [None]
    panels = [(lv, m) for lv in panel_levels for m in metrics
              if plan_rows[plan_rows[spec.panel] == lv if lv is not None else plan_rows.index == plan_rows.index][m].notna().any()]
    panels = panels or [(None, m) for m in metrics][:1] or [(None, None)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels) + 0.8, 3.3), squeeze=False)
    use_x = spec.x in factors and all(_is_number(v) for v in plan_rows[spec.x])
    for ax, (lv, m) in zip(axes[0], panels):
        rows = plan_rows if lv is None else plan_rows[plan_rows[spec.panel] == lv]
        if m is None:
            ax.axis("off")
            continue
        rows = rows[rows[m].notna()]
        if use_x:
            hue = [f for f in factors if f not in (spec.x, spec.panel) and f not in constants]
            for key, g in rows.groupby(hue, dropna=False, sort=False) if hue else [((), rows)]:
                key = key if isinstance(key, tuple) else (key,)
                g = g.sort_values(spec.x)
                ax.errorbar(g[spec.x], g[m], yerr=g[f"{m}_std"].fillna(0), marker="o", capsize=3,
                            label=", ".join(format_value(k) for k in key) or m)
            for _, b in base.iterrows():
                if not _isnan(b.get(m)):
                    ax.axhline(b[m], ls="--", color="0.4", lw=1)
                    ax.annotate(str(b["system"]), (ax.get_xlim()[0], b[m]), fontsize=7, va="bottom")
            ax.set_xlabel(spec.x)
            if len({float(v) for v in rows[spec.x]}) > 2 and min(rows[spec.x]) > 0:
                ax.set_xscale("log", base=2)
        else:
            labels, vals, errs, colors = [], [], [], []
            for _, r in rows.iterrows():
                labels.append(str(r["system"]))
                vals.append(r[m]), errs.append(0 if _isnan(r[f"{m}_std"]) else r[f"{m}_std"]), colors.append("#4c72b0")
            for _, b in base.iterrows():
                if not _isnan(b.get(m)):
                    labels.append(str(b["system"])), vals.append(b[m])
                    errs.append(0 if _isnan(b[f"{m}_std"]) else b[f"{m}_std"]), colors.append("#999999")
            ax.bar(range(len(vals)), vals, yerr=errs, color=colors, capsize=3)
            ax.set_xticks(range(len(vals)), labels, rotation=40, ha="right", fontsize=7)
        ax.set_title(f"{m} {'↑' if higher_is_better(m, spec.lower_is_better) else '↓'}"
                     + (f" ({spec.panel}={format_value(lv)})" if lv is not None else ""), fontsize=9)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        axes[0][-1].legend(fontsize=7)
    sub = ", ".join(f"{k}={format_value(v)}" for k, v in constants.items())
    fig.suptitle(title + (f"\n{sub}" if sub else ""), fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", metadata={"Software": None})
    plt.close(fig)


def write_table(recipe: str, plan: Plan, settings: list[str], results: Path = Path("results"),
                spec=None, replicates: tuple[str, ...] = (), baselines: dict[str, str] | None = None) -> str:
    """Write ``results/<recipe>/<plan>/table.{md,csv,json,png}``; return the Markdown.

    Parameters
    ----------
    recipe : str
    plan : Plan
        The plan (factors and defaults).
    settings : list of str
        Identifiers of the selected settings.
    results : Path
        The results root.
    spec : audiopipe.pipeline.registry.TableSpec
        Columns and plot layout.
    replicates : tuple of str
        Factors pooled as replicates.
    baselines : dict
        name -> folder relative to ``results/<recipe>/``.

    Raises
    ------
    FileNotFoundError, ValueError
        See :func:`collect`; nothing is written then.
    """
    from audiopipe.pipeline.registry import TableSpec

    spec = spec or TableSpec()
    plan_dir = Path(results) / recipe / plan.name
    bl = {name: Path(results) / recipe / folder for name, folder in (baselines or {}).items()}
    df, constants = collect(plan, settings, plan_dir, spec.metrics, replicates, bl)
    df.attrs["baselines"] = list(bl)
    factors = [f for f in plan.factors if f not in replicates]
    pooled = [f for f in replicates if f in plan.factors]
    note = (f"mean ± std over {', '.join(pooled)} (n = number of replicates)" if pooled
            else "mean ± std over items (n = number of items)")
    title = f"{recipe} — {plan.name}"
    md = to_markdown(title, df, constants, spec.lower_is_better, note, spec.panel)
    with atomic_path(plan_dir / "table.md") as tmp:
        tmp.write_text(md)
    with atomic_path(plan_dir / "table.csv") as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(plan_dir / "table.json") as tmp:
        tmp.write_text(json.dumps(to_json(df), indent=2, sort_keys=True) + "\n")
    to_png(title, df, constants, plan_dir / "table.png", spec, factors)
    return md


def table_command(argv: list[str]) -> int:
    """``audiopipe table RECIPE --plan P --params-section JSON --settings JSON [--results DIR]``."""
    ap = argparse.ArgumentParser(prog="audiopipe table", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe")
    ap.add_argument("--plan", required=True, help="plan name")
    ap.add_argument("--plan-spec", required=True, type=json.loads,
                    help="the plan's declaration (JSON: factors, default)")
    ap.add_argument("--settings", required=True, type=json.loads, help="selected setting ids (JSON list)")
    ap.add_argument("--baselines", type=json.loads, default={}, help="name -> folder (JSON object)")
    ap.add_argument("--results", type=Path, default=Path("results"))
    a = ap.parse_args(argv)
    from audiopipe.pipeline.registry import get

    decl = get(a.recipe)
    spec = a.plan_spec
    plan = Plan(a.plan, dict(spec.get("factors") or {}), dict(spec.get("default") or {}))
    print(write_table(a.recipe, plan, list(a.settings), a.results, decl.table, decl.replicates, a.baselines))
    return 0
