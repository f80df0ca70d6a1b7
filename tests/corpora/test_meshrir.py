"""MeshRIR adapter. The MeshRIR IR data is not in any public repository (sh01k/MeshRIR ships
code only), so the test builds the S32-M441_npy layout (ir_<m>.npy of shape (sources, samples),
pos_mic.npy, pos_src.npy, data.json) from the REAL measured dEchorate RIRs of shared/fixtures:
3 sources x 4 microphones = the 12 measured RIRs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audiopipe.corpora._base import CorpusLayoutError, load_rir
from audiopipe.corpora.meshrir import prepare_meshrir
from audiopipe.io import read_jsonl
from tests.corpora._corpora_real import dechorate

NSRC, NMIC = 3, 4


def _tree(fixtures_dir, root):
    d = dechorate(fixtures_dir)
    s = root / "S32-M441_npy"
    s.mkdir(parents=True)
    ir = d["rir"][:, :4800].reshape(NSRC, NMIC, -1)  # (sources, mics, samples), 0.1 s at 48 kHz
    for m in range(NMIC):
        np.save(s / f"ir_{m}.npy", ir[:, m, :])
    pos_mic = np.array([[x, y, 0.0] for x in (-0.05, 0.0) for y in (-0.05, 0.0)])
    np.save(s / "pos_mic.npy", pos_mic)
    np.save(s / "pos_src.npy", d["mics"][:NSRC])  # any three real positions
    (s / "data.json").write_text(json.dumps({"samplerate": d["fs"]}))
    return ir, pos_mic


def test_layout_and_load(fixtures_dir, tmp_path):
    ir, pos_mic = _tree(fixtures_dir, tmp_path / "mesh")
    man = prepare_meshrir(tmp_path / "mesh", tmp_path / "out")
    recs = read_jsonl(man)
    assert [r["id"] for r in recs] == [f"meshrir_S32-M441_src{s:02d}" for s in range(NSRC)]
    r = recs[1]
    assert (r["num_channels"], r["num_samples"], r["sampling_rate"]) == (NMIC, 4800, 48000)
    assert r["T60"] == 0.19 and r["room_size"] == [7.0, 6.4, 2.7]
    m = load_rir(r, channels=[3, 1])
    np.testing.assert_array_equal(m.rir, ir[1, [3, 1], :])
    np.testing.assert_array_equal(m.mic_positions, pos_mic[[3, 1]])
    assert prepare_meshrir(tmp_path / "mesh", tmp_path / "out").read_bytes() == man.read_bytes()


@pytest.mark.parametrize("fault", ["missing_ir", "bad_name", "shape", "pos", "json"])
def test_malformed(fixtures_dir, tmp_path, fault):
    root = tmp_path / "mesh"
    ir, _ = _tree(fixtures_dir, root)
    s = root / "S32-M441_npy"
    if fault == "missing_ir":
        (s / "ir_2.npy").unlink()
        msg = r"ir_2\.npy: missing"
    elif fault == "bad_name":
        np.save(s / "ir_x.npy", ir[:, 0])
        msg = r"ir_x\.npy: IR file name must be"
    elif fault == "shape":
        np.save(s / "ir_1.npy", ir[:2, 1])
        msg = r"ir_1\.npy: shape \(2, 4800\), expected \(3, samples\)"
    elif fault == "pos":
        np.save(s / "pos_mic.npy", np.zeros((NMIC, 2)))
        msg = r"pos_mic\.npy: pos_mic has shape \(4, 2\)"
    else:
        (s / "data.json").write_text("{}")
        msg = r"data\.json: no integer 'samplerate'"
    with pytest.raises(CorpusLayoutError, match=msg):
        prepare_meshrir(root, tmp_path / "out")
