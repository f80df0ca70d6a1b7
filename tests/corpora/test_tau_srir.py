"""TAU-SRIR DB / TAU-SNoise DB adapter. The databases (Zenodo) are not in any public
repository, so the test builds their layout (TAU-SRIR_DB/rirdata.mat, measinfo.mat,
rirs_<NN>_<room>.mat, TAU-SNoise_DB/<NN>_<room>/ambience_tetra_24k_edited.wav) from REAL
recordings of shared/fixtures: the measured dEchorate RIRs resampled to 24 kHz as the 4-channel
SRIRs, and real speech (pyannote sample, resampled) as the ambience. One room file is written
as MATLAB v7.3 (HDF5 with object references, as the real files are), the other as v5."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import scipy.signal

from audiopipe.corpora._base import CorpusLayoutError, load_rir
from audiopipe.corpora.tau_srir import prepare_tau_srir, tetra_mic_positions
from audiopipe.io import read_jsonl
from tests.corpora._corpora_real import dechorate_at, speech, write_wav

ROOMS = {"bomb_shelter": "01", "pb132": "03"}
NTRAJ, NHEI, NPTS = 2, 1, 3


def _srirs(fixtures_dir):
    """{(traj, height): (samples, 4, points)} built from the 12 measured RIRs (0.1 s at 24 kHz)."""
    r = dechorate_at(fixtures_dir, 24000, 0.1)
    out = {}
    for t in range(NTRAJ):
        pts = [r[[(p + t) % 3 * 4 + k for k in range(4)]].T for p in range(NPTS)]
        out[(t, 0)] = np.stack(pts, axis=2) * (1.0 + t)
    return out


def _write_v73(path, srirs):
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        g = f.create_group("rirs")
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        refs = f.create_group("#refs#")
        for field in ("mic", "foa"):
            ref = np.empty((NHEI, NTRAJ), dtype=h5py.ref_dtype)  # MATLAB (traj, height), transposed
            for (t, h), a in srirs.items():
                ds = refs.create_dataset(f"{field}_{t}_{h}", data=np.ascontiguousarray(a.T))
                ds.attrs["MATLAB_class"] = np.bytes_("double")
                ref[h, t] = ds.ref
            g.create_dataset(field, data=ref)
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .")


def _write_v5(path, srirs):
    s = np.empty((NTRAJ, NHEI), dtype=[("mic", "O"), ("foa", "O")])
    for (t, h), a in srirs.items():
        s[t, h]["mic"] = a
        s[t, h]["foa"] = a
    scipy.io.savemat(str(path), {"rirs": s})


def _doas(seed):
    v = np.random.default_rng(seed).normal(size=(NPTS, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _tree(fixtures_dir, root, npts_doa=NPTS):
    db = root / "TAU-SRIR_DB"
    db.mkdir(parents=True)
    room = np.empty((len(ROOMS), 1), dtype=[("name", "O"), ("rirs", "O")])
    meas = np.empty((len(ROOMS), 1), dtype=[("name", "O"), ("dimensions", "O"), ("micPosition", "O")])
    for i, name in enumerate(ROOMS):
        rr = np.empty((NTRAJ, NHEI), dtype=[("doa_xyz", "O")])
        for t in range(NTRAJ):
            rr[t, 0]["doa_xyz"] = _doas(10 * i + t)[:npts_doa]
        room[i, 0]["name"], room[i, 0]["rirs"] = name, rr
        meas[i, 0]["name"], meas[i, 0]["dimensions"] = name, np.array([[9.0 + i, 7.0, 3.0]])
        meas[i, 0]["micPosition"] = np.array([[4.0, 3.0 + i, 1.5]])
    rirdata = {"fs": 24000.0, "room": room, "tetra_mic_radius_m": 0.042,
               "tetra_mic_azel_deg": np.array([[45, 35], [-45, -35], [135, -35], [-135, 35]], dtype=float)}
    scipy.io.savemat(str(db / "rirdata.mat"), {"rirdata": rirdata})
    scipy.io.savemat(str(db / "measinfo.mat"), {"measinfo": meas})
    srirs = _srirs(fixtures_dir)
    _write_v73(db / "rirs_01_bomb_shelter.mat", srirs)
    _write_v5(db / "rirs_03_pb132.mat", srirs)
    _, x, fs = speech(fixtures_dir)[2]
    amb = scipy.signal.resample_poly(np.stack([np.roll(x, 100 * k) for k in range(4)]), 3, 2, axis=1)
    write_wav(root / "TAU-SNoise_DB/01_bomb_shelter/ambience_tetra_24k_edited.wav", amb, 24000)
    return srirs


def test_layout_doas_and_load(fixtures_dir, tmp_path):
    srirs = _tree(fixtures_dir, tmp_path / "tau")
    recs = {r["id"]: r for r in read_jsonl(prepare_tau_srir(tmp_path / "tau", tmp_path / "out"))}
    rirs = [r for r in recs.values() if r["kind"] == "rir"]
    assert len(rirs) == len(ROOMS) * NTRAJ * NHEI * NPTS
    noise = recs["tau_snoise_bomb_shelter_tetra"]
    assert (noise["kind"], noise["num_channels"], noise["sampling_rate"]) == ("noise", 4, 24000)
    for room in ROOMS:
        r = recs[f"tau_srir_{room}_t2_h1_p0003"]
        assert (r["num_channels"], r["num_samples"], r["sampling_rate"]) == (4, 2400, 24000)
        np.testing.assert_allclose(r["source_doa"], _doas(10 * list(ROOMS).index(room) + 1)[2])
        assert r["room_size"] == [9.0 + list(ROOMS).index(room), 7.0, 3.0]
        assert r["array_position"] == [4.0, 3.0 + list(ROOMS).index(room), 1.5]
        m = load_rir(r, channels=[3, 0])
        np.testing.assert_array_equal(m.rir, srirs[(1, 0)][:, [3, 0], 2].T)
        np.testing.assert_allclose(m.mic_positions, tetra_mic_positions()[[3, 0]])
        np.testing.assert_allclose(m.source_doa, r["source_doa"])
    # the tetrahedron: 4 capsules on a 4.2 cm sphere, all pairwise distances equal
    d = np.linalg.norm(tetra_mic_positions()[:, None] - tetra_mic_positions()[None], axis=-1)
    np.testing.assert_allclose(d[np.triu_indices(4, 1)], d[0, 1], rtol=0.02)


@pytest.mark.parametrize("fault", ["room", "points", "name", "noise", "norirdata", "channels"])
def test_malformed(fixtures_dir, tmp_path, fault):
    root = tmp_path / "tau"
    db = root / "TAU-SRIR_DB"
    if fault == "points":
        _tree(fixtures_dir, root, npts_doa=2)
        msg = r"rirs_01_bomb_shelter\.mat: rirs\(1,1\) has 3 points but rirdata\.mat doa_xyz is \(2, 3\)"
    else:
        srirs = _tree(fixtures_dir, root)
        if fault == "room":
            _write_v5(db / "rirs_05_sa203.mat", srirs)
            msg = r"rirs_05_sa203\.mat: room 'sa203' is not in rirdata\.mat"
        elif fault == "name":
            _write_v5(db / "rirs_pb132.mat", srirs)
            msg = r"rirs_pb132\.mat: room file name must be rirs_<NN>_<room>\.mat"
        elif fault == "channels":
            _write_v5(db / "rirs_03_pb132.mat", {k: v[:, :3] for k, v in srirs.items()})
            msg = r"rirs_03_pb132\.mat: rirs\(1,1\)\.mic has 3 channels, expected 4"
        elif fault == "noise":
            p = root / "TAU-SNoise_DB/01_bomb_shelter/ambience_tetra_24k_edited.wav"
            write_wav(p, np.zeros((2, 2400)), 24000)
            msg = r"ambience_tetra_24k_edited\.wav: has 2 channel\(s\), expected 4"
        else:
            (db / "rirdata.mat").unlink()
            msg = r"TAU-SRIR_DB/rirdata\.mat: missing file"
    with pytest.raises(CorpusLayoutError, match=msg):
        prepare_tau_srir(root, tmp_path / "out")


def test_v73_scalar_struct(fixtures_dir, tmp_path):
    """A room with one trajectory and one height: MATLAB v7.3 stores a 1x1 struct's fields as
    plain datasets (no object references)."""
    import h5py

    db = tmp_path / "tau/TAU-SRIR_DB"
    db.mkdir(parents=True)
    a = _srirs(fixtures_dir)[(0, 0)]  # (samples, 4, points), real measured RIRs
    rr = np.empty((1, 1), dtype=[("doa_xyz", "O")])
    rr[0, 0]["doa_xyz"] = _doas(5)
    room = np.empty((1, 1), dtype=[("name", "O"), ("rirs", "O")])
    room[0, 0]["name"], room[0, 0]["rirs"] = "tc352", rr
    scipy.io.savemat(str(db / "rirdata.mat"), {"rirdata": {"fs": 24000.0, "room": room}})
    with h5py.File(db / "rirs_09_tc352.mat", "w", userblock_size=512) as f:
        g = f.create_group("rirs")
        for field in ("mic", "foa"):
            g.create_dataset(field, data=np.ascontiguousarray(a.T))
    recs = read_jsonl(prepare_tau_srir(tmp_path / "tau", tmp_path / "out"))
    assert [r["id"] for r in recs] == [f"tau_srir_tc352_t1_h1_p000{p}" for p in (1, 2, 3)]
    assert recs[0]["room_size"] is None
    np.testing.assert_array_equal(load_rir(recs[1]).rir, a[:, :, 1].T)
