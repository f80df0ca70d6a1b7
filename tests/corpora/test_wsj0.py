"""WSJ0 adapter. WSJ0 (LDC) is not public: the test builds the converted-WAV layout SAR-SSL
reads, ``{tr,dt,et}/<group>/<speaker>/<utt>.wav``, from REAL 16 kHz speech in shared/fixtures
(CMU ARCTIC utterances and excerpts of the pyannote sample)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from audiopipe.corpora._base import CorpusLayoutError
from audiopipe.corpora.wsj0 import prepare_wsj0
from audiopipe.io import read_jsonl
from tests.corpora._corpora_real import speech, write_wav


def _tree(fixtures_dir, root):
    sp = speech(fixtures_dir)
    plan = [("tr", "si_tr_s", "aew", sp[0]), ("tr", "si_tr_s", "axb", sp[1]),
            ("dt", "si_dt_05", "spk2", sp[2]), ("et", "si_et_05", "spk3", sp[3])]
    for split, group, spk, (name, x, fs) in plan:
        write_wav(root / split / group / spk / f"{name}.wav", x, fs, subtype="PCM_16")
    return plan


def test_layout_and_fields(fixtures_dir, tmp_path):
    plan = _tree(fixtures_dir, tmp_path / "wsj0")
    man = prepare_wsj0(tmp_path / "wsj0", tmp_path / "out")
    recs = {r["id"]: r for r in read_jsonl(man)}
    assert len(recs) == 4
    for split, group, spk, (name, x, _) in plan:
        r = recs[name]
        assert r["split"] == {"tr": "train", "dt": "val", "et": "test"}[split]
        assert (r["group"], r["speaker"], r["kind"], r["corpus"]) == (group, spk, "speech", "wsj0")
        assert (r["sampling_rate"], r["num_channels"], r["num_samples"]) == (16000, 1, len(x))
        assert r["duration"] == pytest.approx(len(x) / 16000)
        y, _ = sf.read(r["path"])
        np.testing.assert_allclose(y, x, atol=1 / 32768)
    assert prepare_wsj0(tmp_path / "wsj0", tmp_path / "out").read_bytes() == man.read_bytes()


@pytest.mark.parametrize("fault", ["sphere", "ext", "depth", "stereo", "rate", "nosplit"])
def test_malformed(fixtures_dir, tmp_path, fault):
    root = tmp_path / "wsj0"
    _tree(fixtures_dir, root)
    name, x, fs = speech(fixtures_dir)[0]
    if fault == "sphere":
        bad = root / "tr/si_tr_s/aew/011c0201.wv1"
        bad.write_bytes(b"NIST_1A\n   1024\n")
        msg = "011c0201.wv1: NIST SPHERE file; convert.*sph2pipe"
    elif fault == "ext":
        bad = write_wav(root / "tr/si_tr_s/aew/x.flac", x, fs, subtype="PCM_16")
        msg = r"x\.flac: unexpected file in WSJ0 tree"
    elif fault == "depth":
        bad = write_wav(root / "tr/si_tr_s/loose.wav", x, fs)
        msg = r"loose\.wav: expected tr/<group>/<speaker>/<utterance>\.wav"
    elif fault == "stereo":
        bad = write_wav(root / "dt/si_dt_05/spk2/st.wav", np.stack([x, x]), fs)
        msg = r"st\.wav: has 2 channel\(s\), expected 1"
    elif fault == "rate":
        bad = write_wav(root / "et/si_et_05/spk3/r8.wav", x[::2], 8000)
        msg = r"r8\.wav: sampling rate is 8000 Hz, expected 16000 Hz"
    else:
        import shutil
        shutil.rmtree(root / "et")
        msg = r"wsj0/et: missing folder"
    with pytest.raises(CorpusLayoutError, match=msg):
        prepare_wsj0(root, tmp_path / "out")
