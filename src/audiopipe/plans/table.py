"""Result tables in doce's style: one row per setting, mean ± std per metric, best in bold.

``audiopipe table <recipe> [-s SELECTOR]`` reads every setting folder
``results/<recipe>/<plan>/<setting>/`` of the recipe's plans that the selector keeps. Per-item
scores come from ``scores.csv`` (one row per item: scene-listener pair, fold, seed, track ...)
when it exists, else from ``metrics.json`` (flat ``metric -> value``, with optional
``<metric>_std``). Factors that are constant over the shown settings are lifted into a header
line; each metric column carries ↑ (higher is better) or ↓; the best mean is bold.
Exports Markdown, CSV and PNG (matplotlib) to ``results/<recipe>/tables/``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from audiopipe.io import atomic_path
from audiopipe.plans.core import format_value, load_plans, select

#: metric-name fragments whose smaller values are better; everything else is higher-better
LOWER_IS_BETTER = ("mse", "mae", "der", "error", "bce", "kl", "loss", "seconds", "rmse", "wer")


def higher_is_better(metric: str) -> bool:
    """Direction of a metric from its name (``haspi`` ↑, ``mae_t60`` ↓, ``der`` ↓)."""
    m = metric.lower()
    return not any(k in m.split("_") or m.startswith(k) for k in LOWER_IS_BETTER)


def _setting_stats(folder: Path) -> dict[str, tuple[float, float, int]] | None:
    """metric -> (mean, std, n) for one setting folder, or None when it has no results."""
    scores, metrics = folder / "scores.csv", folder / "metrics.json"
    if scores.is_file():
        df = pd.read_csv(scores)
        num = df.select_dtypes("number").drop(columns=["seconds"], errors="ignore")
        return {c: (float(num[c].mean()), float(num[c].std(ddof=0)), int(num[c].count())) for c in num}
    if metrics.is_file():
        m = json.loads(metrics.read_text())
        n = int(m.get("n", 1)) if isinstance(m.get("n", 1), (int, float)) else 1
        out = {}
        for k, v in m.items():
            if k.endswith("_std") or k == "n" or not isinstance(v, (int, float)) or isinstance(v, bool):
                continue
            out[k] = (float(v), float(m.get(f"{k}_std", float("nan"))), n)
        return out
    return None


def collect(recipe: str, section: dict, selector: str | None = None, results: Path = Path("results")) -> tuple[pd.DataFrame, dict]:
    """Gather the selected settings' statistics.

    Returns
    -------
    table : pandas.DataFrame
        One row per setting with results: factor columns, then ``<metric>`` (mean),
        ``<metric>_std`` and ``<metric>_n`` columns.
    constants : dict
        Factors with a single value over the rows (lifted into the header).
    """
    rows = []
    for s in select(load_plans(section), selector):
        stats = _setting_stats(results / recipe / s.plan / s.id)
        if stats is None:
            continue
        row = {"plan": s.plan, "setting": s.id, **s.values}
        for k, (mean, std, n) in stats.items():
            row.update({k: mean, f"{k}_std": std, f"{k}_n": n})
        rows.append(row)
    df = pd.DataFrame(rows)
    constants = {}
    if not df.empty:
        factors = [c for c in df.columns if c not in ("setting",) and not _is_metric_col(df, c)]
        for f in factors:
            vals = df[f].dropna().unique()
            if len(vals) == 1 and len(df) > 1:
                constants[f] = vals[0]
    return df, constants


def _is_metric_col(df: pd.DataFrame, col: str) -> bool:
    return f"{col}_std" in df.columns or col.endswith("_std") or col.endswith("_n")


def metric_names(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if f"{c}_std" in df.columns]


def to_markdown(recipe: str, df: pd.DataFrame, constants: dict) -> str:
    """doce-like Markdown: a header line of constant factors, mean ± std cells, best in bold."""
    if df.empty:
        return f"# {recipe}\n\n(no results yet)\n"
    metrics = metric_names(df)
    factors = [c for c in df.columns if c not in metrics and not c.endswith(("_std", "_n"))
               and c not in constants and c != "setting"]
    lines = [f"# {recipe}", ""]
    if constants:
        lines += ["Constant: " + ", ".join(f"{k}={format_value(v)}" for k, v in constants.items()), ""]
    head = factors + [f"{m} {'↑' if higher_is_better(m) else '↓'}" for m in metrics]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    best = {m: (df[m].max() if higher_is_better(m) else df[m].min()) for m in metrics}
    for _, r in df.iterrows():
        cells = [format_value(r[f]) if not _isnan(r[f]) else "" for f in factors]
        for m in metrics:
            if _isnan(r[m]):
                cells.append("")
                continue
            s = f"{r[m]:.3f}" + ("" if _isnan(r[f"{m}_std"]) else f" ± {r[f'{m}_std']:.3f}")
            cells.append(f"**{s}**" if r[m] == best[m] else s)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def to_png(recipe: str, df: pd.DataFrame, path: Path) -> None:
    """One bar chart per metric (mean with std error bars), one bar per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = metric_names(df) or ["(none)"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics) + 1, 3.2), squeeze=False)
    labels = [f"{p}/{s}" for p, s in zip(df.get("plan", []), df.get("setting", []))]
    for ax, m in zip(axes[0], metrics):
        if m in df:
            ax.bar(range(len(df)), df[m], yerr=df[f"{m}_std"].fillna(0), color="#4c72b0", capsize=3)
            ax.set_xticks(range(len(df)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_title(f"{m} {'↑' if higher_is_better(m) else '↓'}")
    fig.suptitle(recipe)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def export(recipe: str, section: dict, out_dir: Path, selector: str | None = None,
           results: Path = Path("results")) -> str:
    """Write ``<out_dir>/<recipe>.{md,csv,png}`` and return the Markdown."""
    df, constants = collect(recipe, section, selector, results)
    md = to_markdown(recipe, df, constants)
    out_dir = Path(out_dir)
    with atomic_path(out_dir / f"{recipe}.md") as tmp:
        tmp.write_text(md)
    with atomic_path(out_dir / f"{recipe}.csv") as tmp:
        df.to_csv(tmp, index=False)
    to_png(recipe, df, out_dir / f"{recipe}.png")
    return md


def table_command(argv: list[str]) -> int:
    """``audiopipe table <recipe> [-s SELECTOR]``: print and export the recipe's table."""
    ap = argparse.ArgumentParser(prog="audiopipe table", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe")
    ap.add_argument("-s", "--select", default=None, help="doce selector, e.g. 'size_lr/lr=0.001'")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--out-dir", type=Path, default=None, help="default: results/<recipe>/tables")
    a = ap.parse_args(argv)
    from audiopipe.config import load_params

    cfg = load_params(a.params)
    if a.recipe not in cfg:
        raise SystemExit(f"audiopipe table: no section {a.recipe!r} in {a.params}")
    out = a.out_dir or a.results / a.recipe / "tables"
    print(export(a.recipe, cfg[a.recipe], out, a.select, a.results))
    return 0
