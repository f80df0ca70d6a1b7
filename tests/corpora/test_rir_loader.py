"""The uniform measured-RIR loader (audiopipe.corpora._base.load_rir) on manifests built from
REAL measured RIRs (the MIRD and ACE layouts of test_mir/test_ace, built from shared/fixtures)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from audiopipe.corpora._base import CorpusLayoutError, MeasuredRIR, load_rir, load_rirs, mic_pairs
from audiopipe.corpora.ace import prepare_ace
from audiopipe.corpora.mir import FOLDER, prepare_mir
from audiopipe.io import read_jsonl
from tests.corpora import test_ace, test_mir


@pytest.fixture
def mir(fixtures_dir, tmp_path):
    h = test_mir._tree(fixtures_dir, tmp_path / "mir")
    return h, {r["id"]: r for r in read_jsonl(prepare_mir(tmp_path / "mir", tmp_path / "out"))}


def test_uniform_record(mir):
    h, recs = mir
    m = load_rir(recs["mir_T0.160_3-3-3-8-3-3-3_1m_000"])
    assert isinstance(m, MeasuredRIR)
    assert m.rir.shape == (8, h.shape[0]) and m.rir.dtype == np.float64
    assert (m.sampling_rate, m.T60, m.corpus, m.room, m.array) == (48000, 0.16, "mir", "R1", "3-3-3-8-3-3-3")
    assert m.mic_positions.shape == (8, 3) and m.source_position.shape == (3,)
    assert m.DRR is None and m.room_size.tolist() == [6.0, 6.0, 2.4]
    np.testing.assert_array_equal(m.rir, h.T)


def test_errors(mir, fixtures_dir, tmp_path):
    _, recs = mir
    r = recs["mir_T0.160_3-3-3-8-3-3-3_1m_000"]
    with pytest.raises(CorpusLayoutError, match=r"channel\(s\) \[8\] out of range 0\.\.7"):
        load_rir(r, channels=[0, 8])
    with pytest.raises(CorpusLayoutError, match="unknown RIR format 'npz'"):
        load_rir({**r, "format": "npz"})
    with pytest.raises(CorpusLayoutError, match="kind is 'speech', not 'rir'"):
        load_rir({**r, "kind": "speech"})
    # the file changed after the manifest was written
    p = tmp_path / "mir" / FOLDER / test_mir.N1
    m = scipy.io.loadmat(str(p))
    scipy.io.savemat(str(p), {"impulse_response": m["impulse_response"][:1000], "simpar": m["simpar"]})
    with pytest.raises(CorpusLayoutError, match=r"\.mat: RIR of record .* has shape \(8, 1000\).*re-run prepare"):
        load_rir(r)


def test_load_rirs_skips_noise(fixtures_dir, tmp_path):
    test_ace._tree(fixtures_dir, tmp_path / "ace")
    man = prepare_ace(tmp_path / "ace", tmp_path / "out")
    got = load_rirs(man, channels=[0, 1])
    assert sorted(m.id for m in got) == ["ace_Chromebook_Office_1_1_rir", "ace_Lin8Ch_Office_1_1_rir"]
    assert all(m.rir.shape[0] == 2 and m.T60 is not None and m.DRR.shape == (2,) for m in got)


def test_mic_pairs_sar_ssl_range(mir):
    """MIRD 3-3-3-8-3-3-3 cm array: 25 of its 28 pairs are 3-20 cm apart (the three left out are
    23, 23 and 26 cm), bounds inclusive as in SAR-SSL."""
    _, recs = mir
    pairs = mic_pairs(recs["mir_T0.160_3-3-3-8-3-3-3_1m_000"]["mic_positions"])
    assert len(pairs) == 25
    assert (0, 1) in pairs and (0, 5) in pairs and (3, 4) in pairs
    assert (0, 6) not in pairs and (0, 7) not in pairs and (1, 7) not in pairs
    assert mic_pairs(recs["mir_T0.160_3-3-3-8-3-3-3_1m_000"]["mic_positions"], (0.05, 0.07)) == [
        (0, 2), (1, 3), (4, 6), (5, 7)]
