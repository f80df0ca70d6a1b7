"""ACE adapter. The ACE corpus is not public on GitHub, so the test builds the SAR-SSL layout
(RIRN/<array>/<room>/<config>/*RIR*.wav, *Noise*_<type>.wav, Data/<annotation csv>) from REAL
recordings of shared/fixtures: the stereo audiomentations IR as a Chromebook RIR, 8 measured
dEchorate RIRs as a Lin8Ch RIR, and real speech (pyannote sample) as a babble noise."""

from __future__ import annotations

import numpy as np
import pytest

from audiopipe.corpora._base import CorpusLayoutError, load_rir
from audiopipe.corpora.ace import ANNOTATION_CSV, prepare_ace
from audiopipe.io import read_jsonl
from tests.corpora._corpora_real import audiomentations_ir, dechorate, speech, write_wav

HEADER = "Mic config:, Room decode:, Room config:, Chan:, FB T60:, FB DRR:"
ANNO = {("Chromebook", "Office_1", "1"): [(0.34, 6.1), (0.36, 5.9)],
        ("Lin8Ch", "Office_1", "1"): [(0.30 + 0.01 * c, 2.0 - 0.5 * c) for c in range(8)]}


def _csv(path, anno, header=HEADER):
    rows = [header] + [f"{a}, {r}, {c}, {i + 1}, {t}, {d}"
                       for (a, r, c), v in anno.items() for i, (t, d) in enumerate(v)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")


def _tree(fixtures_dir, root):
    chrome, fs_c = audiomentations_ir(fixtures_dir, "stereo_impulse_response.wav")
    lin = dechorate(fixtures_dir)["rir"][:8, :9600]
    d = root / "RIRN"
    write_wav(d / "Chromebook/Office_1/1/Chromebook_Office_1_1_RIR.wav", chrome, fs_c)
    write_wav(d / "Lin8Ch/Office_1/1/Lin8Ch_Office_1_1_RIR.wav", lin, 48000)
    _, x, fs = speech(fixtures_dir)[2]
    write_wav(d / "Chromebook/Office_1/1/Chromebook_Office_1_1_Noise_babble.wav", np.stack([x, x[::-1]]), fs)
    _csv(root / "Data" / ANNOTATION_CSV, ANNO)
    return chrome, lin


def test_layout_annotations_and_load(fixtures_dir, tmp_path):
    chrome, lin = _tree(fixtures_dir, tmp_path / "ace")
    recs = {r["id"]: r for r in read_jsonl(prepare_ace(tmp_path / "ace", tmp_path / "out"))}
    assert sorted(recs) == ["ace_Chromebook_Office_1_1_noise_babble", "ace_Chromebook_Office_1_1_rir",
                            "ace_Lin8Ch_Office_1_1_rir"]
    c = recs["ace_Chromebook_Office_1_1_rir"]
    assert c["T60"] == pytest.approx(0.35) and c["DRR"] == [6.1, 5.9]
    assert (c["num_channels"], c["sampling_rate"]) == (2, 44100)
    assert c["room_size"] == [3.32, 4.83, 2.95] and c["mic_positions"] == [[0, 0, 0], [0, 0.062, 0]]
    n = recs["ace_Chromebook_Office_1_1_noise_babble"]
    assert (n["kind"], n["noise_type"], n["channels_match_rir"]) == ("noise", "babble", True)
    m = load_rir(recs["ace_Lin8Ch_Office_1_1_rir"], channels=[2, 5])
    np.testing.assert_allclose(m.rir, lin[[2, 5]], atol=1e-7)  # float32 WAV
    np.testing.assert_allclose(m.DRR, [1.0, -0.5])
    np.testing.assert_allclose(np.linalg.norm(m.mic_positions[1] - m.mic_positions[0]), 0.18)


@pytest.mark.parametrize("fault", ["nocsv", "column", "channels", "anno", "tworirs", "array", "ext"])
def test_malformed(fixtures_dir, tmp_path, fault):
    root = tmp_path / "ace"
    chrome, lin = _tree(fixtures_dir, root)
    if fault == "nocsv":
        (root / "Data" / ANNOTATION_CSV).unlink()
        msg = r"Data/20150814T154139_Corpus_Mean_DRRs_and_T60s\.csv: missing file"
    elif fault == "column":
        _csv(root / "Data" / ANNOTATION_CSV, ANNO, HEADER.replace("FB DRR:", "DRR"))
        msg = r"T60s\.csv: missing column\(s\) \['FB DRR:'\]"
    elif fault == "channels":
        write_wav(root / "RIRN/Chromebook/Office_1/1/Chromebook_Office_1_1_RIR.wav", lin[:3], 48000)
        msg = r"Chromebook_Office_1_1_RIR\.wav: has 3 channel\(s\), expected 2"
    elif fault == "anno":
        _csv(root / "Data" / ANNOTATION_CSV, {k: v[:-1] for k, v in ANNO.items()})
        msg = r"Chromebook_Office_1_1_RIR\.wav: annotation csv has channels \[1\]"
    elif fault == "tworirs":
        write_wav(root / "RIRN/Lin8Ch/Office_1/1/Lin8Ch_Office_1_1_RIR_copy.wav", lin, 48000)
        msg = r"Lin8Ch/Office_1/1: expected exactly one \*RIR\*\.wav, found 2"
    elif fault == "ext":
        (root / "RIRN/Lin8Ch/Office_1/1/Lin8Ch_Office_1_1_RIR.mat").write_bytes(b"MATLAB")
        msg = r"Lin8Ch_Office_1_1_RIR\.mat: unexpected file in ACE tree \(expected \.wav\)"
    else:
        write_wav(root / "RIRN/Tablet/Office_1/1/Tablet_RIR.wav", lin[:2], 48000)
        msg = r"RIRN/Tablet: unknown ACE array 'Tablet'"
    with pytest.raises(CorpusLayoutError, match=msg):
        prepare_ace(root, tmp_path / "out")
