"""dEchorate adapter on the REAL dEchorate files (the measured-RIR .mat and the csvs of
shared/fixtures/rir/dechorate), and on an HDF5 release layout built from those real RIRs
(the full dEchorate_rir.h5 is not in the fixtures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from audiopipe.corpora._base import CorpusLayoutError, load_rir, load_rirs
from audiopipe.corpora.dechorate import prepare_dechorate
from audiopipe.io import read_jsonl
from tests.corpora._corpora_real import DECHORATE_MAT, dechorate

CSVS = ("dEchorate_calibrated_elements_positions.csv", "dEchorate_recordings_annotation.csv")


def test_real_mat_and_csvs(fixtures_dir, tmp_path):
    man = prepare_dechorate(fixtures_dir / "rir/dechorate", tmp_path)
    (rec,) = read_jsonl(man)
    assert rec["kind"] == "rir" and rec["format"] == "mat"
    assert (rec["sampling_rate"], rec["num_channels"], rec["num_samples"]) == (48000, 12, 19556)
    # the .mat holds the first two capsules of each of the 6 arrays; matched against the csv
    assert rec["mic_ids"] == [1, 6, 11, 16, 21, 26, 2, 7, 12, 17, 22, 27]
    assert rec["mic_array"] == [1, 2, 3, 4, 5, 6] * 2
    assert (rec["source_id"], rec["source_type"], rec["room"]) == (1, "directional", "011111")
    assert rec["source_position"] == pytest.approx([1.991, 4.498, 1.424])
    # recordings annotation: room 011111, directional source 1, chirp
    ann = pd.read_csv(fixtures_dir / "rir/dechorate" / CSVS[1])
    code = ann[["floor", "ceiling", "west", "south", "east", "north"]].astype(str).agg("".join, axis=1)
    row = ann[(ann.signal == "chirp") & (ann.sources == "directional") & (ann.id == 1) & (code == "011111")]
    assert rec["temperature"] == float(row.temperature.iloc[0])
    assert rec["artifacts"] == int(row.artifacts.iloc[0])

    m = load_rir(rec)
    assert m.rir.shape == (12, 19556) and m.sampling_rate == 48000
    np.testing.assert_array_equal(load_rir(rec, channels=[3]).direct_path_times, m.direct_path_times[[3]])
    # the annotated direct-path times agree with the RIR peaks and with the geometry
    peaks = np.argmax(np.abs(m.rir), axis=1) / m.sampling_rate
    assert np.all(np.abs(peaks - np.array(rec["direct_path_times"])) < 0.25e-3)
    tof = np.linalg.norm(m.mic_positions - m.source_position, axis=1) / rec["speed_of_sound"]
    assert np.all(np.abs(tof - np.array(rec["direct_path_times"])) < 0.25e-3)
    assert np.array(rec["echo_times"]).shape == (12, 6)

    # idempotent: same tree, same bytes
    b1 = man.read_bytes()
    assert prepare_dechorate(fixtures_dir / "rir/dechorate", tmp_path).read_bytes() == b1


def _h5_tree(fixtures_dir: Path, root: Path, n_cols: int = 31) -> dict:
    """dEchorate_rir.h5 (rir/<room>/<source>, (samples, 31)) built from the 12 measured RIRs:
    capsules 1,6,..,27 get their own measured RIR; the 18 other capsules get the measured RIR of
    the capsule of their array that is in the .mat; column 31 (loopback) a unit impulse."""
    root.mkdir(parents=True, exist_ok=True)
    for c in CSVS:
        shutil.copy(fixtures_dir / "rir/dechorate" / c, root / c)
    d = dechorate(fixtures_dir)
    ids = [1, 6, 11, 16, 21, 26, 2, 7, 12, 17, 22, 27]
    cols = np.zeros((d["rir"].shape[1], n_cols))
    for k in range(30):
        mic = k + 1
        src_col = ids.index(mic) if mic in ids else ids.index(((mic - 1) // 5) * 5 + 1)
        cols[:, k] = d["rir"][src_col]
    if n_cols == 31:
        cols[0, 30] = 1.0
    with h5py.File(root / "dEchorate_rir.h5", "w") as f:
        f.attrs["sampling_rate"] = d["fs"]
        f.create_dataset("rir/011111/1", data=cols)
        f.create_dataset("rir/000000/7", data=cols[:, :] * 0.5)
    return d


def test_hdf5_release_layout(fixtures_dir, tmp_path):
    d = _h5_tree(fixtures_dir, tmp_path / "dechorate")
    man = prepare_dechorate(tmp_path / "dechorate", tmp_path / "out")
    recs = {r["id"]: r for r in read_jsonl(man)}
    assert sorted(recs) == ["dechorate_000000_src7", "dechorate_011111_src1"]
    r = recs["dechorate_011111_src1"]
    assert (r["num_channels"], r["format"], r["key"]) == (30, "hdf5", "rir/011111/1")
    assert r["source_type"] == "directional" and recs["dechorate_000000_src7"]["source_type"] == "omnidirectional"
    # capsule 1 and 6 are the first two measured RIRs; positions from the calibrated csv
    m = load_rir(r, channels=[0, 5])
    np.testing.assert_array_equal(m.rir, d["rir"][[0, 1]])
    np.testing.assert_allclose(m.mic_positions, d["mics"][[0, 1]], atol=1e-8)
    assert m.channels == [0, 5]
    assert len(load_rirs(man)) == 2


def test_errors_name_the_fault(fixtures_dir, tmp_path):
    root = tmp_path / "d"
    _h5_tree(fixtures_dir, root, n_cols=30)
    with pytest.raises(CorpusLayoutError, match=r"dEchorate_rir\.h5: dataset rir/0\d+/\d+ has shape"):
        prepare_dechorate(root, tmp_path / "o")

    root2 = tmp_path / "d2"
    _h5_tree(fixtures_dir, root2)
    (root2 / CSVS[0]).unlink()
    with pytest.raises(CorpusLayoutError, match="dEchorate_calibrated_elements_positions.csv: missing file"):
        prepare_dechorate(root2, tmp_path / "o")

    shutil.copy(fixtures_dir / "rir/dechorate" / CSVS[0], root2 / CSVS[0])
    df = pd.read_csv(root2 / CSVS[1]).rename(columns={"temperature": "temp"})
    df.to_csv(root2 / CSVS[1], index=False)
    with pytest.raises(CorpusLayoutError, match=r"annotation\.csv: missing column\(s\) \['temperature'\]"):
        prepare_dechorate(root2, tmp_path / "o")

    text = (root2 / CSVS[0]).read_text()
    (root2 / CSVS[0]).write_text(text.replace("0.85771319", "abc"))  # capsule 1's x
    with pytest.raises(CorpusLayoutError, match=r"positions\.csv: mic x,y,z is not numeric"):
        prepare_dechorate(root2, tmp_path / "o")

    root3 = tmp_path / "d3"
    root3.mkdir()
    shutil.copy(fixtures_dir / "rir/dechorate" / CSVS[0], root3 / CSVS[0])
    import scipy.io
    m = scipy.io.loadmat(str(fixtures_dir / DECHORATE_MAT))
    scipy.io.savemat(str(root3 / "bad.mat"), {k: m[k] for k in ("rirs", "fs", "mics")})
    with pytest.raises(CorpusLayoutError, match=r"bad\.mat: missing MATLAB variable\(s\) \['src'\]"):
        prepare_dechorate(root3, tmp_path / "o")
