"""``audiopipe corpus`` and ``audiopipe demo``: the commands of the generic corpus and demo rules."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger("audiopipe.corpora")


def _json_object(text: str) -> dict:
    try:
        val = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {e}") from e
    if not isinstance(val, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return val


def corpus_command(argv: list[str]) -> int:
    """``audiopipe corpus prepare NAME --root R --output-dir D [--options JSON]`` | ``corpus list``."""
    from audiopipe.corpora import registry

    ap = argparse.ArgumentParser(prog="audiopipe corpus", description=registry.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="the corpus adapters, their manifests and options")
    p = sub.add_parser("prepare", help="write a corpus' manifests (lhotse-style JSONL)")
    p.add_argument("name", choices=sorted(registry.CORPORA))
    p.add_argument("--root", type=Path, required=True, help="corpus root, in the corpus' real layout")
    p.add_argument("--output-dir", type=Path, required=True, help="manifest folder")
    p.add_argument("--options", type=_json_object, default={}, help="adapter options (JSON object)")
    a = ap.parse_args(argv)
    if a.action == "list":
        for c in registry.CORPORA.values():
            print(f"{c.name:<13} {c.title}\n{'':<13} manifests: {', '.join(c.manifests({}).values())}; "
                  f"options: {', '.join(c.options()) or 'none'}")
        return 0
    for path in registry.prepare(a.name, a.root, a.output_dir, a.options):
        log.info("wrote %s", path)
    return 0


def demo_command(argv: list[str]) -> int:
    """``audiopipe demo CORPUS --root R [--fixtures F] [--downloads D] [--options JSON]``."""
    from audiopipe import demo

    ap = argparse.ArgumentParser(prog="audiopipe demo", description=demo.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", choices=sorted(demo.BUILDERS))
    ap.add_argument("--root", type=Path, required=True, help="corpus root to write")
    # nargs="?": the demo rule writes `--fixtures {params.fixtures:q}`, and Snakemake's `:q` renders
    # an empty value (no fixtures) as nothing at all, so a bare `--fixtures` means "none"
    ap.add_argument("--fixtures", nargs="?", const="", default="",
                    help="shared/fixtures folder ('', bare or absent: registry packages)")
    ap.add_argument("--downloads", type=Path, default=demo.DEFAULT_DOWNLOADS,
                    help="folder of the registry packages fetched by scripts/setup.sh")
    ap.add_argument("--options", type=_json_object, default={}, help="builder options (JSON object)")
    a = ap.parse_args(argv)
    demo.build(a.corpus, a.root, a.fixtures, a.downloads, a.options)
    log.info("demo corpus %s written to %s", a.corpus, a.root)
    return 0
