"""MIRD (Bar-Ilan) adapter. The MIRD .mat files are not in any public repository, so the test
builds the SAR-SSL layout (Impulse_response_Acoustic_Lab_Bar-Ilan_University/<MIRD name>.mat with
impulse_response, simpar.fs, metapar.reverberation) from the REAL measured dEchorate RIRs of
shared/fixtures (8 of its 12 channels, 48 kHz like MIRD)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from audiopipe.corpora._base import CorpusLayoutError, load_rir
from audiopipe.corpora.mir import FOLDER, prepare_mir
from audiopipe.io import read_jsonl
from tests.corpora._corpora_real import dechorate

N1 = "Impulse_response_Acoustic_Lab_Bar-Ilan_University_(Reverberation_0.160s)_3-3-3-8-3-3-3_1m_000.mat"
N2 = "Impulse_response_Acoustic_Lab_Bar-Ilan_University_(Reverberation_0.360s)_8-8-8-8-8-8-8_2m_045.mat"


def _save(path, h, fs=48000, t60=None, meta=None):
    d = {"impulse_response": h, "simpar": {"fs": float(fs)}}
    if t60 is not None:
        d["metapar"] = {"reverberation": t60, **(meta or {})}
    scipy.io.savemat(str(path), d)


def _tree(fixtures_dir, root):
    d = dechorate(fixtures_dir)
    f = root / FOLDER
    f.mkdir(parents=True)
    h = d["rir"][:8, :14400].T  # (samples, 8), 0.3 s
    _save(f / N1, h, t60=0.16, meta={"mic_spacing": [3.0, 3, 3, 8, 3, 3, 3], "distance": 1.0, "azimuth": 0.0})
    _save(f / N2, 0.5 * h, t60=0.36, meta={"azimuth": 45.0 - 360.0})
    return h


def test_layout_geometry_and_load(fixtures_dir, tmp_path):
    h = _tree(fixtures_dir, tmp_path / "mir")
    recs = {r["id"]: r for r in read_jsonl(prepare_mir(tmp_path / "mir", tmp_path / "out"))}
    r1 = recs["mir_T0.160_3-3-3-8-3-3-3_1m_000"]
    r2 = recs["mir_T0.360_8-8-8-8-8-8-8_2m_045"]
    assert (r1["room"], r2["room"]) == ("R1", "R2")
    assert (r1["T60"], r1["num_channels"], r1["sampling_rate"]) == (0.16, 8, 48000)
    mics = np.array(r1["mic_positions"])
    spacing = np.linalg.norm(np.diff(mics, axis=0), axis=1)
    np.testing.assert_allclose(spacing, [0.03, 0.03, 0.03, 0.08, 0.03, 0.03, 0.03])
    np.testing.assert_allclose(mics.mean(axis=0), 0, atol=1e-12)
    # angle 000 is broadside: mirror-image microphones are equidistant from the source
    dist = np.linalg.norm(mics - np.array(r1["source_position"]), axis=1)
    np.testing.assert_allclose(dist, dist[::-1])
    np.testing.assert_allclose(r2["source_position"], [2 * np.cos(np.pi / 4), 2 * np.sin(np.pi / 4), 0], atol=1e-12)
    m = load_rir(r2, channels=[0, 7])
    np.testing.assert_array_equal(m.rir, 0.5 * h[:, [0, 7]].T)


@pytest.mark.parametrize("fault", ["name", "ext", "channels", "simpar", "t60", "spacing"])
def test_malformed(fixtures_dir, tmp_path, fault):
    root = tmp_path / "mir"
    h = _tree(fixtures_dir, root)
    f = root / FOLDER
    if fault == "name":
        _save(f / "Impulse_response_foo.mat", h)
        msg = r"Impulse_response_foo\.mat: name does not follow the MIRD pattern"
    elif fault == "ext":
        (f / "notes.txt").write_text("x")
        msg = r"notes\.txt: unexpected file in MIRD folder"
    elif fault == "channels":
        _save(f / N1, h[:, :7])
        msg = r"0\.160s.*\.mat: impulse_response has shape \(14400, 7\), expected \(samples, 8\)"
    elif fault == "simpar":
        scipy.io.savemat(str(f / N1), {"impulse_response": h})
        msg = r"0\.160s.*\.mat: missing MATLAB variable\(s\) \['simpar'\]"
    elif fault == "t60":
        _save(f / N1, h, t60=0.61)
        msg = r"0\.160s.*\.mat: metapar\.reverberation = \[0\.61\] s but the file name says \[0\.16\] s"
    else:
        _save(f / N1, h, t60=0.16, meta={"mic_spacing": [4.0, 4, 4, 8, 4, 4, 4]})
        msg = r"0\.160s.*\.mat: metapar\.mic_spacing = \[4\.0, .*\] cm but the file name says \[3\.0"
    with pytest.raises(CorpusLayoutError, match=msg):
        prepare_mir(root, tmp_path / "out")
