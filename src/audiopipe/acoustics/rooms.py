"""Random shoebox rooms and two-microphone arrays, as SAR-SSL samples them.

Source: SAR-SSL reference code (Audio-WestlakeU/SAR-SSL), ``code_v1/dataset.py``
(``RandomMicSigDataset.getRandomScene``, ``T60isValid``, ``genTrajectory`` and the
``dualch_array_setup`` named tuple) and ``code_v1/common/utils_room_acoustics.py``
(``rt60_with_sabine``). Room sizes, T60 range, per-wall absorption weights U(0.5, 1), the
two-microphone array (spacing 0.1 m x U(0.3, 2) = 0.03-0.20 m, random azimuth), the array
position as a fraction of the room and the source region follow that code; every range is a
parameter (``params.yaml`` key ``sar_ssl.data.room``). ``tests/fidelity/test_sar_ssl.py`` checks the
formulas against the reference code and the sampled distributions against its statistics.

Wall order everywhere in audiopipe's acoustics: ``[x=0, x=Lx, y=0, y=Ly, z=0, z=Lz]`` (gpuRIR's
order, used by SAR-SSL). Absorption coefficients are *energy* absorption coefficients
``alpha``; the image-source reflection coefficient is ``beta = sqrt(1 - alpha)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

#: Sabine's constant 24 ln(10) / c at c = 343 m/s, rounded as in SAR-SSL (s/m).
SABINE_CONSTANT = 0.161


@dataclass(frozen=True)
class RoomConfig:
    """Ranges for random rooms (SAR-SSL ``code_v1`` defaults).

    Attributes
    ----------
    size_min, size_max : list of float
        Room size range ``[Lx, Ly, Lz]`` in m (defaults 3x3x2.5 to 15x10x6).
    t60_range : list of float
        Target reverberation time range in s, drawn uniformly.
    abs_weight_range : list of float
        Range of the per-wall absorption weights, drawn uniformly per wall.
    mic_spacing_range : list of float
        Microphone spacing range in m (SAR-SSL: 0.1 m x U(0.3, 2)).
    array_pos_min, array_pos_max : list of float
        Array centre as a fraction of the room size per axis.
    min_src_wall_dist : float
        Minimum source-to-wall distance in m.
    min_src_array_dist : float
        Minimum source-to-array-centre distance in m.
    sound_speed : float
        Speed of sound in m/s.
    max_tries : int
        Rejection-sampling budget before :class:`RoomSamplingError`.
    source_placement : {"sar_ssl", "uniform"}
        Source region (see :func:`place_array_and_source`): ``sar_ssl`` (default) the box of
        SAR-SSL's ``genTrajectory``, ``uniform`` the whole room less ``min_src_wall_dist``.
    """

    size_min: list = field(default_factory=lambda: [3.0, 3.0, 2.5])
    size_max: list = field(default_factory=lambda: [15.0, 10.0, 6.0])
    t60_range: list = field(default_factory=lambda: [0.2, 1.3])
    abs_weight_range: list = field(default_factory=lambda: [0.5, 1.0])
    mic_spacing_range: list = field(default_factory=lambda: [0.03, 0.20])
    array_pos_min: list = field(default_factory=lambda: [0.2, 0.2, 0.1])
    array_pos_max: list = field(default_factory=lambda: [0.8, 0.8, 0.5])
    min_src_wall_dist: float = 0.3
    min_src_array_dist: float = 0.3
    sound_speed: float = 343.0
    max_tries: int = 1000
    source_placement: str = "sar_ssl"

    @classmethod
    def from_dict(cls, d: dict | None) -> "RoomConfig":
        """Build from a params dict; an unknown key raises ``KeyError`` naming it."""
        d = dict(d or {})
        known = set(cls.__dataclass_fields__)
        bad = sorted(set(d) - known)
        if bad:
            raise KeyError(f"unknown room parameter(s) {bad}; known: {sorted(known)}")
        return cls(**d)


class RoomSamplingError(RuntimeError):
    """No valid room/array/source configuration was found within the sampling budget."""


def surfaces(dims) -> np.ndarray:
    """Wall areas in m^2, order ``[x0, x1, y0, y1, z0, z1]``, for room size ``dims`` (3,) m."""
    lx, ly, lz = (float(v) for v in dims)
    return np.array([ly * lz, ly * lz, lx * lz, lx * lz, lx * ly, lx * ly])


def sabine_t60(dims, alpha) -> float:
    """Sabine reverberation time ``T60 = 0.161 V / sum_i(S_i alpha_i)`` in s.

    Parameters
    ----------
    dims : array-like, shape (3,)
        Room size in m.
    alpha : array-like, shape (6,)
        Energy absorption coefficient of each wall, order ``[x0, x1, y0, y1, z0, z1]``.

    Raises
    ------
    ValueError
        If the total absorption area is zero (T60 would be infinite).
    """
    a = float(np.dot(surfaces(dims), np.asarray(alpha, dtype=float)))
    if a <= 0:
        raise ValueError(f"room {list(dims)}: total absorption area is zero, T60 is infinite")
    return SABINE_CONSTANT * float(np.prod(dims)) / a


def sabine_absorption(dims, t60: float, weights=None) -> np.ndarray:
    """Per-wall absorption coefficients giving Sabine reverberation time ``t60``.

    ``alpha_i = k w_i`` with ``k = 0.161 V / (t60 sum_i S_i w_i)``: the closed form of the
    one-dimensional search of gpuRIR's ``beta_SabineEstimation`` (which SAR-SSL calls).

    Parameters
    ----------
    dims : array-like, shape (3,)
        Room size in m.
    t60 : float
        Target reverberation time in s (> 0).
    weights : array-like, shape (6,), optional
        Relative absorption of each wall (default: all 1).

    Returns
    -------
    numpy.ndarray, shape (6,)
        Energy absorption coefficients; values >= 1 mean the target T60 is unreachable.
    """
    if t60 <= 0:
        raise ValueError(f"t60 must be > 0 s, got {t60}")
    w = np.ones(6) if weights is None else np.asarray(weights, dtype=float)
    k = SABINE_CONSTANT * float(np.prod(dims)) / (t60 * float(np.dot(surfaces(dims), w)))
    return k * w


@dataclass
class Room:
    """One sampled shoebox room with a two-microphone array and one static source.

    Attributes
    ----------
    dims : numpy.ndarray, shape (3,)
        Room size in m.
    t60 : float
        Target (Sabine) reverberation time in s.
    abs_weights, alpha, beta : numpy.ndarray, shape (6,)
        Absorption weights, energy absorption coefficients and reflection coefficients
        ``sqrt(1 - alpha)`` per wall, order ``[x0, x1, y0, y1, z0, z1]``.
    mic_pos : numpy.ndarray, shape (2, 3)
        Microphone positions in m.
    src_pos : numpy.ndarray, shape (3,)
        Source position in m.
    array_pos : numpy.ndarray, shape (3,)
        Array centre in m.
    mic_spacing : float
        Microphone distance in m.
    azimuth_deg : float
        Array rotation about the z axis in degrees.
    sound_speed : float
        Speed of sound in m/s.
    """

    dims: np.ndarray
    t60: float
    abs_weights: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    mic_pos: np.ndarray
    src_pos: np.ndarray
    array_pos: np.ndarray
    mic_spacing: float
    azimuth_deg: float
    sound_speed: float = 343.0

    def to_dict(self) -> dict:
        """JSON-ready description (lists of floats, rounded to 0.1 mm / 1e-6)."""
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, np.ndarray):
                out[k] = [round(float(x), 6) for x in v.ravel()]
                if v.ndim == 2:
                    out[k] = [[round(float(x), 6) for x in row] for row in v]
            else:
                out[k] = round(float(v), 6)
        return out


def sample_room_acoustics(rng: np.random.Generator, cfg: RoomConfig) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Draw room size, target T60 and absorption weights; reject unreachable T60 targets.

    SAR-SSL rejects a draw when the Sabine T60 of the gpuRIR absorption misses the target by
    more than 5 ms or a wall would be fully absorbing (``T60isValid``); with the closed form of
    :func:`sabine_absorption` the Sabine T60 is exact, so a draw is rejected when any
    ``alpha >= 1`` (target below the room's minimum T60).

    Returns
    -------
    dims : numpy.ndarray, shape (3,)
    t60 : float
    weights : numpy.ndarray, shape (6,)
    alpha : numpy.ndarray, shape (6,)

    Raises
    ------
    RoomSamplingError
        When ``cfg.max_tries`` draws are all rejected.
    """
    lo, hi = np.asarray(cfg.size_min, float), np.asarray(cfg.size_max, float)
    for _ in range(cfg.max_tries):
        dims = lo + rng.random(3) * (hi - lo)
        t60 = float(cfg.t60_range[0] + rng.random() * (cfg.t60_range[1] - cfg.t60_range[0]))
        w = cfg.abs_weight_range[0] + rng.random(6) * (cfg.abs_weight_range[1] - cfg.abs_weight_range[0])
        alpha = sabine_absorption(dims, t60, w)
        if np.all(alpha < 1.0) and abs(sabine_t60(dims, alpha) - t60) < 0.005:
            return dims, t60, w, alpha
    raise RoomSamplingError(
        f"no room with reachable T60 in {cfg.max_tries} draws (sizes {cfg.size_min}-{cfg.size_max} m, "
        f"T60 {cfg.t60_range} s)"
    )


SOURCE_PLACEMENTS = ("sar_ssl", "uniform")


def source_box(array_pos, azimuth_deg: float, dims, min_src_wall_dist: float,
               min_src_array_dist: float) -> tuple[np.ndarray, np.ndarray]:
    """The box SAR-SSL draws a static source from (``genTrajectory``, ``planar_linear`` arrays).

    The array's orientation vector ``orV = R(azimuth) [0, 1, 0] = [-sin az, cos az, 0]`` (the
    broadside of the two-microphone array) decides the box: the room less ``min_src_wall_dist``
    from every wall, then, on every axis where ``orV`` is non-zero, the lower bound is moved to the
    array centre plus ``min_src_array_dist |orV_i|`` when ``sum(orV) > 0``, else the upper bound to
    the array centre minus ``min_src_array_dist |orV_i|``. For a rotated array both x and y are
    restricted with the same sign, so the source lies in the quadrant ``(+x, +y)`` or
    ``(-x, -y)`` of the array centre, not in the half-space in front of the broadside that the
    reference code's comment describes; the reference code is followed here. Its corner nearest
    the array centre lies ``min_src_array_dist`` from it in the x-y plane.

    Parameters
    ----------
    array_pos : array-like, shape (3,)
        Array centre in m.
    azimuth_deg : float
        Array rotation about z in degrees (SAR-SSL ``mic_rotate``).
    dims : array-like, shape (3,)
        Room size in m.
    min_src_wall_dist, min_src_array_dist : float
        Distances in m.

    Returns
    -------
    lo, hi : numpy.ndarray, shape (3,)
        Box corners in m (``lo > hi`` on an axis when the box is empty).
    """
    a = np.deg2rad(float(azimuth_deg))
    rot = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    orv = rot @ np.array([0.0, 1.0, 0.0])
    array_pos = np.asarray(array_pos, float)
    lo = np.full(3, float(min_src_wall_dist))
    hi = np.asarray(dims, float) - float(min_src_wall_dist)
    nz = np.nonzero(orv)
    if np.sum(orv) > 0:
        lo[nz] = array_pos[nz]
        lo += min_src_array_dist * np.abs(orv)
    else:
        hi[nz] = array_pos[nz]
        hi -= min_src_array_dist * np.abs(orv)
    return lo, hi


def place_array_and_source(
    rng: np.random.Generator,
    cfg: RoomConfig,
    dims: np.ndarray,
    t60: float,
    weights: np.ndarray,
    alpha: np.ndarray,
) -> Room:
    """Place the two-microphone array and the source in a room (SAR-SSL ``getRandomScene``).

    The array centre is drawn at ``U(array_pos_min, array_pos_max) * dims``, the spacing from
    ``mic_spacing_range`` (SAR-SSL: 0.1 m x U(0.3, 2)) and the azimuth from U(0, 360) degrees
    (array axis in the x-y plane; microphone 1 at ``-d/2 (cos az, sin az, 0)`` from the centre).
    The source (``cfg.source_placement``):

    * ``"sar_ssl"`` (default): uniform in :func:`source_box`, SAR-SSL's ``genTrajectory``
      (``code_v1/dataset.py``; the paper does not describe the placement, so the reference code
      is followed). It has no rejection step: the box keeps the source at least
      ``min_src_array_dist`` from the array centre.
    * ``"uniform"``: uniform in the room shrunk by ``min_src_wall_dist``, redrawn until it is at
      least ``min_src_array_dist`` from the array centre. Every direction around the array is
      equally likely, so the TDOA labels cover both signs evenly for every azimuth, which the
      quadrant box of the reference does not (it skews the TDOA distribution for a given array
      orientation); kept for that reason.

    Raises
    ------
    RoomSamplingError
        When no valid source position is found in ``cfg.max_tries`` draws, the source box is empty,
        or a microphone falls outside the room.
    ValueError
        Unknown ``cfg.source_placement``.
    """
    if cfg.source_placement not in SOURCE_PLACEMENTS:
        raise ValueError(f"source_placement must be one of {SOURCE_PLACEMENTS}, got {cfg.source_placement!r}")
    array_pos = (np.asarray(cfg.array_pos_min) + rng.random(3)
                 * (np.asarray(cfg.array_pos_max) - np.asarray(cfg.array_pos_min))) * dims
    d = float(cfg.mic_spacing_range[0] + rng.random() * (cfg.mic_spacing_range[1] - cfg.mic_spacing_range[0]))
    az = float(rng.random() * 360.0)
    u = np.array([np.cos(np.deg2rad(az)), np.sin(np.deg2rad(az)), 0.0])
    mic_pos = np.stack([array_pos - 0.5 * d * u, array_pos + 0.5 * d * u])
    if np.any(mic_pos <= 0) or np.any(mic_pos >= dims):
        raise RoomSamplingError(f"microphone outside room {dims.tolist()}: {mic_pos.tolist()}")
    m = cfg.min_src_wall_dist
    if cfg.source_placement == "sar_ssl":
        lo, hi = source_box(array_pos, az, dims, m, cfg.min_src_array_dist)
        if np.any(lo > hi):
            raise RoomSamplingError(f"empty source box {lo.tolist()}-{hi.tolist()} in room {dims.tolist()} "
                                    f"(array at {array_pos.tolist()}, azimuth {az:.1f} deg): the array is closer "
                                    "to a wall than min_src_wall_dist + min_src_array_dist")
        src = lo + rng.random(3) * (hi - lo)
    else:
        for _ in range(cfg.max_tries):
            src = m + rng.random(3) * (dims - 2 * m)
            if np.linalg.norm(src - array_pos) >= cfg.min_src_array_dist:
                break
        else:
            raise RoomSamplingError(f"no source position in room {dims.tolist()} after {cfg.max_tries} draws")
    return Room(dims=dims, t60=t60, abs_weights=weights, alpha=alpha, beta=np.sqrt(1.0 - alpha),
                mic_pos=mic_pos, src_pos=src, array_pos=array_pos, mic_spacing=d,
                azimuth_deg=az, sound_speed=cfg.sound_speed)


def sample_room(rng: np.random.Generator, cfg: RoomConfig | None = None) -> Room:
    """Draw a complete random room (acoustics, array and source) from ``rng``."""
    cfg = cfg or RoomConfig()
    dims, t60, w, alpha = sample_room_acoustics(rng, cfg)
    return place_array_and_source(rng, cfg, dims, t60, w, alpha)


def make_room(dims, t60: float, mic_pos, src_pos, weights=None, sound_speed: float = 343.0) -> Room:
    """Build a :class:`Room` from explicit geometry (benchmarks, tests).

    Raises
    ------
    ValueError
        If the T60 is unreachable (some ``alpha >= 1``) or a position lies outside the room.
    """
    dims = np.asarray(dims, float)
    mic_pos = np.asarray(mic_pos, float).reshape(-1, 3)
    src_pos = np.asarray(src_pos, float).reshape(3)
    w = np.ones(6) if weights is None else np.asarray(weights, float)
    alpha = sabine_absorption(dims, t60, w)
    if np.any(alpha >= 1):
        raise ValueError(f"T60 {t60} s is below the minimum of room {dims.tolist()} (alpha={alpha.round(3).tolist()})")
    for name, p in (("microphone", mic_pos), ("source", src_pos[None])):
        if np.any(p <= 0) or np.any(p >= dims):
            raise ValueError(f"{name} position {p.tolist()} is outside room {dims.tolist()}")
    array_pos = mic_pos.mean(axis=0)
    v = mic_pos[-1] - mic_pos[0]
    return Room(dims=dims, t60=float(t60), abs_weights=w, alpha=alpha, beta=np.sqrt(1 - alpha),
                mic_pos=mic_pos, src_pos=src_pos, array_pos=array_pos,
                mic_spacing=float(np.linalg.norm(v)),
                azimuth_deg=float(np.rad2deg(np.arctan2(v[1], v[0])) % 360.0),
                sound_speed=float(sound_speed))
