"""The corpus registry: every corpus adapter, the manifests it writes, the options it takes.

One generic rule (``workflow/rules/corpora.smk``) prepares any corpus named in params.yaml
``corpora:`` into ``data/manifests/<corpus>/``, once, whatever recipes read it::

    corpora:
      clarity: {root: data/demo/clarity, demo: {...}, splits: [train, dev]}
      ace: {root: data/raw/ACE, demo: false, arrays: [Chromebook, Mobile, Lin8Ch]}

Every corpus has the same configuration shape: ``root`` (the corpus folder, in its real on-disk
layout; ``{fixtures}`` in it stands for the top-level ``fixtures`` folder), ``demo`` (``false``
for a real download, else the options of the demo builder of :mod:`audiopipe.demo`, which
writes ``root`` from real recordings) and the adapter's own options (keyword arguments of its
``prepare_<corpus>`` function). Manifests are lhotse-style:
``<corpus>_recordings_<split>.jsonl.gz`` (``<corpus>_recordings.jsonl.gz`` for a corpus without
splits).

This module is light (no adapter is imported until a corpus is prepared).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Corpus:
    """Declaration of one corpus adapter.

    Parameters
    ----------
    name : str
        Key under params ``corpora``; prefix of its manifests.
    title : str
        What the corpus is (one line).
    prepare : str
        ``module:function`` of the adapter, ``f(root, output_dir, **options)``.
    splits : tuple of str or callable
        Splits it writes one manifest each for (a callable takes the corpus' params spec);
        empty: one manifest without a split.
    """

    name: str
    title: str
    prepare: str
    splits: tuple[str, ...] | Callable[[dict], list[str]] = ()

    def split_names(self, spec: dict) -> list[str]:
        return list(self.splits(spec) if callable(self.splits) else self.splits)

    def manifests(self, spec: dict) -> dict[str | None, str]:
        """split (None without splits) -> manifest file name."""
        splits = self.split_names(spec)
        if not splits:
            return {None: f"{self.name}_recordings.jsonl.gz"}
        return {s: f"{self.name}_recordings_{s}.jsonl.gz" for s in splits}

    def function(self) -> Callable:
        mod, _, fn = self.prepare.partition(":")
        return getattr(importlib.import_module(mod), fn)

    def options(self) -> list[str]:
        """Option names the adapter takes (its keyword parameters after root and output_dir), read
        from its source without importing it."""
        from audiopipe.pipeline.provenance import parameters_of

        return [p for p in parameters_of(self.prepare) if p not in ("root", "output_dir")]


def _opt(key: str, default):
    return lambda spec: list(spec.get(key) or default)


CORPORA: dict[str, Corpus] = {c.name: c for c in [
    Corpus("clarity", "Clarity CEC2 / ICASSP 2023 scenes", "audiopipe.corpora.clarity:prepare_clarity",
           _opt("splits", ["train", "dev"])),
    Corpus("wsj0", "WSJ0 read speech (SAR-SSL source speech)", "audiopipe.corpora.wsj0:prepare_wsj0"),
    Corpus("tau_urban", "TAU Urban Acoustic Scenes 2020 Mobile", "audiopipe.corpora.tau_urban:prepare_tau_urban",
           ("train", "evaluate")),
    Corpus("urbansound8k", "UrbanSound8K", "audiopipe.corpora.urbansound8k:prepare_urbansound8k"),
    Corpus("ami", "AMI meeting corpus (pyannote protocol lists)", "audiopipe.corpora.ami:prepare_ami",
           _opt("splits", ["train", "test"])),
    Corpus("sonyc_ust", "SONYC Urban Sound Tagging v2", "audiopipe.corpora.sonyc_ust:prepare_sonyc_ust"),
    Corpus("musdb18hq", "MUSDB18-HQ", "audiopipe.corpora.musdb:prepare_musdb", ("train", "valid", "test")),
    Corpus("locata", "LOCATA challenge recordings", "audiopipe.corpora.locata:prepare_locata"),
    Corpus("dechorate", "dEchorate measured RIRs", "audiopipe.corpora.dechorate:prepare_dechorate"),
    Corpus("ace", "ACE challenge measured RIRs", "audiopipe.corpora.ace:prepare_ace"),
    Corpus("meshrir", "MeshRIR measured RIRs", "audiopipe.corpora.meshrir:prepare_meshrir"),
    Corpus("mir", "Multichannel Impulse Response Database (MIRD)", "audiopipe.corpora.mir:prepare_mir"),
    Corpus("butreverb", "BUT ReverbDB measured RIRs", "audiopipe.corpora.butreverb:prepare_butreverb"),
    Corpus("tau_srir", "TAU spatial RIR database (DCASE)", "audiopipe.corpora.tau_srir:prepare_tau_srir"),
]}

#: the keys every corpus spec may have besides the adapter's own options
SPEC_KEYS = ("root", "demo")


def get(name: str) -> Corpus:
    """Declaration of a corpus.

    Raises
    ------
    KeyError
        Naming the unknown corpus and the known ones.
    """
    if name not in CORPORA:
        raise KeyError(f"unknown corpus {name!r}; corpora: {', '.join(sorted(CORPORA))}")
    return CORPORA[name]


def resolve_root(root: str, fixtures: str | None) -> str:
    """``root`` with ``{fixtures}`` replaced by the fixtures folder ("" when there is none)."""
    return root.replace("{fixtures}", str(fixtures or "").rstrip("/") or "<no fixtures>")


def manifest_dir(name: str) -> str:
    """Folder of a corpus' manifests, relative to the working directory."""
    return f"data/manifests/{name}"


def prepare(name: str, root: Path, output_dir: Path, options: dict | None = None) -> list[Path]:
    """Run a corpus adapter and check it wrote exactly the declared manifests.

    Parameters
    ----------
    name : str
        Corpus name.
    root : Path
        Corpus root.
    output_dir : Path
        Manifest folder.
    options : dict
        The adapter's options (keys of its params spec besides ``root`` and ``demo``).

    Returns
    -------
    list of Path
        The manifests.

    Raises
    ------
    KeyError
        Unknown corpus or option (naming it and the options the adapter takes).
    FileNotFoundError
        If the corpus root is missing, or the adapter did not write a declared manifest.
    """
    c = get(name)
    options = dict(options or {})
    known = c.options()
    bad = sorted(set(options) - set(known))
    if bad:
        raise KeyError(f"corpora.{name}: unknown option(s) {bad}; {c.prepare} takes {known}")
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"corpora.{name}.root: {root} does not exist")
    c.function()(root, Path(output_dir), **options)
    out = [Path(output_dir) / f for f in c.manifests(options).values()]
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{c.prepare} did not write {missing}")
    return out
