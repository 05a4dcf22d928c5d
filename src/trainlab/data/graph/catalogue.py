"""Star catalogues for the graph family: a seeded synthetic Gaia-like catalogue, or your own file.

Every source returns a :class:`StarTable` (3-D positions for the neighbour graph, node features,
integer labels, each star's identifier); :class:`trainlab.data.graph.module.StarGraphDataModule`
does the rest (kNN graph, splits, imputation, scaling, batches). Both sources go through
:func:`table_from_frame`, so the synthetic catalogue is read exactly as a file with the same columns
would be.

Missing values are normal in Gaia DR3 (no BP-RP colour for faint or crowded stars, no parallax or
proper motion for two-parameter solutions), so ``missing`` says what to do with them:

* ``impute`` (default): keep the stars; features stay NaN here and the data module fills them with
  the training stars' medians and adds a 0/1 "was missing" feature per affected column.
* ``drop``: leave out every star with a missing feature (also from its neighbours' graphs).
* ``error``: refuse the catalogue, naming the columns and the first row.

A star without a position (ra or dec missing, or parallax for ``position=sky``) cannot be placed in
the graph: under ``impute`` and ``drop`` it is left out and counted in a log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from trainlab.data.graph.columns import (ID_COLUMN, MISSING, apply_missing_policy, once_per_star, placeable, star_ids,
                                         with_gaps)
from trainlab.data.timeseries.sources import read_frame
from trainlab.config.errors import UserError

log = logging.getLogger(__name__)

# Gaia DR3 gaia_source column names: what the synthetic catalogue writes and what a file has by default
GAIA_FEATURES = ["parallax", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp"]
SKY_COLUMNS = ["ra", "dec", "parallax"]
CARTESIAN_COLUMNS = ["x", "y", "z"]
POSITIONS = ("sky", "cartesian")

# Galactic -> ICRS rotation: column j is Galactic axis j (x to the Galactic centre, y along rotation,
# z to the north Galactic pole) in ICRS. The Hipparcos definition (ESA 1997, vol. 1, sec. 1.5.3),
# transposed; tests/test_graph.py checks it against astropy.
GALACTIC_TO_ICRS = np.array([
    [-0.0548756577, +0.4941094372, -0.8676661376],
    [-0.8734370520, -0.4448297212, -0.1980763373],
    [-0.4838350736, +0.7469821840, +0.4559838137],
])
PARALLAX_FLOOR = 0.05  # mas: data.source.parallax_floor's default
KM_S_PER_MAS_YR_KPC = 4.740470446  # 1 AU/yr in km/s: v_t [km/s] = 4.74 * mu [mas/yr] / parallax [mas]


@dataclass
class StarTable:
    """One catalogue, row-aligned.

    positions: (stars, 3) float64 Cartesian coordinates the neighbour graph is built on (pc for sky
    catalogues); features: (stars, features) float64 in the catalogue's units, NaN where a value is
    missing (``missing=impute``); labels: (stars,) int64 indices into ``class_names``; ids: (stars,)
    int64 identifiers, exact (Gaia's ``source_id`` exceeds 2^53, so it never passes through a
    float), named ``id_name`` (``row``: the 0-based row in the file); left_out: stars of the file
    not in the table, per reason.
    """

    positions: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    name: str
    ids: np.ndarray
    id_name: str
    left_out: dict[str, int] = field(default_factory=dict)


def sky_to_cartesian(ra_deg: np.ndarray, dec_deg: np.ndarray, parallax_mas: np.ndarray,
                     parallax_floor: float) -> np.ndarray:
    """(stars, 3) heliocentric ICRS coordinates in pc; distance = 1000 / parallax.

    Noise makes some measured parallaxes tiny or negative (faint, distant stars); they are raised to
    ``parallax_floor`` mas first, which places those stars at 1000 / floor pc, far from everything.
    """
    distance = 1000.0 / np.maximum(parallax_mas.astype(np.float64), parallax_floor)
    ra, dec = np.radians(ra_deg.astype(np.float64)), np.radians(dec_deg.astype(np.float64))
    return np.stack([distance * np.cos(dec) * np.cos(ra), distance * np.cos(dec) * np.sin(ra),
                     distance * np.sin(dec)], axis=1)


def _label_strings(values, path: str, column: str) -> np.ndarray:
    """Labels as strings; whole numbers written as floats (1.0, from a CSV with gaps) become '1'."""
    import pandas as pd

    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise UserError(f"'{path}' has {len(missing)} star(s) without a label in column '{column}' (first at "
                        f"row {values.index[missing[0]]}); label them or drop them before training")
    if pd.api.types.is_float_dtype(values) and np.all(np.mod(values.to_numpy(), 1) == 0):
        values = values.astype(np.int64)
    labels = values.astype(str).to_numpy()
    stripped = np.char.strip(labels.astype(str)).astype(object)
    padded = stripped != labels
    if padded.any():  # 'field ' from a fixed-width export is the class 'field', not a class of its own
        log.info("'%s': %d label(s) in column '%s' had spaces around them, removed (e.g. %r -> %r)", path,
                 int(padded.sum()), column, labels[padded][0], stripped[padded][0])
    return stripped


def _found_classes(labels: np.ndarray, path: str, column: str) -> list[str]:
    """The labels found, sorted (as numbers when all are integers); labels that differ only in case
    ('Field', 'field') are refused: one class written two ways would split silently into two."""
    found = np.unique(labels)
    by_case: dict[str, list[str]] = {}
    for name in found:
        by_case.setdefault(name.casefold(), []).append(name)
    clashes = [names for names in by_case.values() if len(names) > 1]
    if clashes:
        raise UserError(f"'{path}' has labels in column '{column}' that differ only in case: "
                        f"{' and '.join(repr(n) for n in clashes[0])}; write each class one way, or, if they are "
                        "different classes, name every class in data.source.classes")
    numeric = all(s.lstrip("-").isdigit() for s in found)
    return sorted(found, key=int) if numeric else sorted(found)


def table_from_frame(frame, path: str, label_column: str, feature_columns: Sequence[str], position: str,
                     position_columns: Optional[Sequence[str]], classes: Optional[Sequence[Union[str, int]]],
                     parallax_floor: float, missing: str = "impute", id_column: Optional[str] = None) -> StarTable:
    """Check a catalogue's columns and turn it into a :class:`StarTable` (see :class:`StarCatalogue`).

    Columns not named (as features, positions, label or identifier) are ignored."""
    if position not in POSITIONS:
        raise UserError(f"data.source.position={position!r} is not one of {', '.join(POSITIONS)}")
    if missing not in MISSING:
        raise UserError(f"data.source.missing={missing!r} is not one of {', '.join(MISSING)}")
    if position_columns is None:
        position_columns = SKY_COLUMNS if position == "sky" else CARTESIAN_COLUMNS
    position_columns = [str(c) for c in position_columns]
    if len(position_columns) != 3:
        what = "[ra, dec, parallax]" if position == "sky" else "[x, y, z]"
        raise UserError(f"data.source.position_columns={position_columns} must name 3 columns: {what}")
    feature_columns = [str(c) for c in feature_columns]
    if not feature_columns:
        raise UserError("data.source.feature_columns is empty; name the columns the classifier sees")
    frame.columns = [str(c) for c in frame.columns]
    if label_column not in frame.columns:
        raise UserError(f"data.source.label_column: '{label_column}' not in '{path}'; its columns are "
                        f"{list(frame.columns)}")
    ids, id_name = star_ids(frame, path, id_column)
    if id_name in feature_columns:
        raise UserError(f"data.source.feature_columns names '{id_name}', the stars' identifier: an identifier is "
                        "no measurement; leave it out")
    if label_column in feature_columns:
        raise UserError(f"data.source.feature_columns names '{label_column}', the data.source.label_column: a model "
                        "that is shown each star's class learns nothing; leave it out")
    features = with_gaps(frame, feature_columns, path, "feature")
    coordinates = with_gaps(frame, position_columns, path, "position")
    first = once_per_star(frame, ids, id_name, [label_column, *position_columns, *feature_columns], path)
    placed = placeable(coordinates, position_columns, missing, path) & first
    keep = apply_missing_policy(features, feature_columns, missing, path, placed)
    left_out = {reason: int(n) for reason, n in (("repeated rows", (~first).sum()),
                                                 ("without a position", (first & ~placed).sum()),
                                                 ("missing features (missing=drop)", (placed & ~keep).sum())) if n}
    if not keep.all():
        frame, features, coordinates, ids = frame[keep], features[keep], coordinates[keep], ids[keep]
    labels = _label_strings(frame[label_column], path, label_column)
    if classes is None:
        class_names = _found_classes(labels, path, label_column)
    else:
        class_names = [str(c) for c in classes]
        if len(set(class_names)) != len(class_names):
            raise UserError(f"data.source.classes={class_names} names a class twice")
        unknown = ~np.isin(labels, class_names)
        if unknown.any():
            first = np.flatnonzero(unknown)[0]
            raise UserError(
                f"'{path}' row {frame.index[first]} has label {labels[first]!r} in column '{label_column}', "
                f"which is not one of data.source.classes {class_names} ({int(unknown.sum())} such star(s)); "
                "fix those rows or add the class to data.source.classes"
            )
    if len(class_names) < 2:
        raise UserError(f"'{path}' has only the class {class_names} in column '{label_column}'; "
                        "classification needs at least 2 classes")
    index = {name: i for i, name in enumerate(class_names)}
    label_ids = np.fromiter((index[s] for s in labels), dtype=np.int64, count=len(labels))
    if position == "sky":
        positions = sky_to_cartesian(coordinates[:, 0], coordinates[:, 1], coordinates[:, 2], parallax_floor)
    else:
        positions = coordinates.astype(np.float64)
    return StarTable(positions, features, label_ids, feature_columns, class_names, Path(path).stem, ids, id_name,
                     left_out)


class StarCatalogue:
    """Your own catalogue: a CSV or Parquet file, one star per row, columns named as you like.

    Args:
        path: the file.
        label_column: the column with each star's class (text or integers).
        feature_columns: columns the classifier sees (default: Gaia DR3's parallax, pmra, pmdec,
            phot_g_mean_mag, bp_rp).
        position: "sky" (``position_columns`` are ra [deg], dec [deg], parallax [mas]; converted to
            heliocentric x, y, z in pc) or "cartesian" (three coordinates used as they are).
        position_columns: null takes [ra, dec, parallax] or [x, y, z].
        classes: the class names in the order of the model's outputs; a label outside them is an
            error. Null takes the labels found, sorted.
        parallax_floor: parallaxes below this (mas) are raised to it before inverting (sky only).
        missing: what to do with missing feature values: "impute" (keep the stars: training-star
            medians plus a 0/1 "was missing" feature per affected column), "drop" or "error". Stars
            without a position are left out (and counted) under impute and drop.
        id_column: the stars' identifier, kept exactly as a 64-bit integer and written beside each
            star's prediction by evaluate.py; never a feature. Null: ``source_id`` when the file has
            it, else the row number.

    Columns the file has but no argument names (``parallax_error``, ``ruwe``, ...) are ignored.
    """

    def __init__(self, path: str, label_column: str, feature_columns: Sequence[str] = tuple(GAIA_FEATURES),
                 position: str = "sky", position_columns: Optional[Sequence[str]] = None,
                 classes: Optional[Sequence[Union[str, int]]] = None, parallax_floor: float = PARALLAX_FLOOR,
                 missing: str = "impute", id_column: Optional[str] = None):
        if parallax_floor <= 0:
            raise UserError(f"data.source.parallax_floor={parallax_floor} must be > 0 (mas)")
        if position == "cartesian" and parallax_floor != PARALLAX_FLOOR:
            log.warning("data.source.parallax_floor=%s is not used: it applies to position=sky only (positions are "
                        "taken as they are with position=cartesian)", parallax_floor)
        if missing not in MISSING:
            raise UserError(f"data.source.missing={missing!r} is not one of {', '.join(MISSING)}")
        self.path, self.label_column, self.feature_columns = path, label_column, list(feature_columns)
        self.position, self.position_columns, self.classes = position, position_columns, classes
        self.parallax_floor, self.missing, self.id_column = parallax_floor, missing, id_column

    def load(self) -> StarTable:
        frame = read_frame(self.path, "data.source.path")
        table = table_from_frame(frame, self.path, self.label_column, self.feature_columns, self.position,
                                 self.position_columns, self.classes, self.parallax_floor, self.missing,
                                 self.id_column)
        absent = [c for i, c in enumerate(table.class_names) if not (table.labels == i).any()]
        if absent:  # named in data.source.classes, no star to train on or score: recall, F1, AUROC undefined
            raise UserError(f"data.source.classes names {absent}, which no star of '{self.path}' has in column "
                            f"'{self.label_column}'; leave {'it' if len(absent) == 1 else 'them'} out, or add stars "
                            f"of {'that class' if len(absent) == 1 else 'those classes'}")
        return table


class SyntheticGaia:
    """A seeded Gaia-like catalogue of open-cluster members and field stars (the embedded default).

    Columns as in Gaia DR3's gaia_source: ``ra, dec`` (deg), ``parallax`` (mas), ``pmra`` (mu_alpha*)
    and ``pmdec`` (mas/yr), ``phot_g_mean_mag``, ``bp_rp`` (mag), plus ``label``: ``field``,
    ``young_cluster`` (10-300 Myr) or ``old_cluster`` (1-5 Gyr). How each class is made:

    * Where. Field stars fill a disc around the Sun (radius ``max_distance_pc``, vertical
      exponential profile with a 250 pc scale height). Clusters sit in the same disc, 80 pc or
      more away; members form a Gaussian core (sigma 1.5-5 pc) and 20% of them a corona four
      times wider (tidal tails and haloes are hard to tell from the field). Cluster sizes vary
      (log-normal, mean ``members_per_cluster``).
    * How they move. Field velocities: heliocentric mean (U, V, W) = (-11, -20, -7) km/s,
      dispersions (35, 25, 18) km/s (solar motion plus asymmetric drift of the thin disc).
      Each cluster moves with one bulk velocity drawn like a field star's (cooler for young
      clusters: 15, 10, 8 km/s) plus an internal dispersion of 0.6 km/s, so members share proper
      motions that neighbouring field stars do not. Proper motion = v_t * parallax / 4.74.
    * Colour and brightness. Intrinsic BP-RP on the main sequence, M_G = 0.9 + 4.4 BP-RP (steeper
      blueward of 0) with 0.3 mag of scatter. Field: mixed ages, 6% hot blue stars, 10% red
      giants (BP-RP 1.2, M_G 0.5). Young clusters: 15% hot blue stars, no giants, and red
      pre-main-sequence stars 0.3-1.2 mag above the main sequence. Old clusters: no main-sequence
      star bluer than the turn-off (BP-RP 0.6-0.9), 12% red giants. Extinction A_G grows with
      distance (0.8 mag/kpc on average, one value per cluster), reddening E(BP-RP) = A_G / 1.9.
    * What Gaia would see. Stars fainter than ``mag_limit`` are redrawn (brighter members of the
      same population), as a magnitude-limited survey sees them. Noise grows with G as in DR3:
      parallax 0.02 mas at G <= 15, x10^(0.26 (G - 15)) fainter (0.22 mas at G = 19), proper
      motions 1.1x that in mas/yr, BP-RP 0.005 mag x10^(0.3 (G - 15)), G 1 mmag x10^(0.2 (G - 13)).

    One star alone is ambiguous: a red main-sequence star can belong to any class, and the
    parallax of a faint member scatters it tens of pc along the line of sight. What separates the
    classes is the neighbourhood: members share their neighbours' proper motion and distance, and
    a cluster's age shows only in the colours of many members together. That is what a GNN reads
    from the kNN graph. A model of a star's own features can still learn a cluster by heart: its
    members form a tight clump in (parallax, proper motion), and with stars split at random most
    of a cluster's members are training stars. Clusters are therefore small by default (20
    members on average, as many faint open clusters are at Gaia's depth): with 50, a
    features-only MLP reached 0.918 test accuracy on the default 4,000 stars, within 5 points of
    a well-trained GNN (0.965); with 20 it reaches 0.815 against the GNN's 0.92
    (tests/test_graph.py checks the gap).

    Args:
        num_stars: rows in the catalogue (hundreds for tests, a million for benchmarks).
        cluster_fraction: share of stars that are cluster members.
        members_per_cluster: mean cluster size; the number of clusters follows from it.
        young_fraction: share of clusters that are young.
        max_distance_pc: radius of the disc the stars fill.
        mag_limit: faintest G magnitude observed.
        seed: everything is drawn from this seed.
    """

    CLASSES = ["field", "young_cluster", "old_cluster"]

    def __init__(self, num_stars: int = 4000, cluster_fraction: float = 0.3, members_per_cluster: int = 20,
                 young_fraction: float = 0.5, max_distance_pc: float = 2000.0, mag_limit: float = 19.0,
                 seed: int = 3407):
        if num_stars < 50:
            raise UserError(f"data.source.num_stars={num_stars}: the generator needs at least 50 stars")
        if not 0.0 < cluster_fraction < 1.0:
            raise UserError(f"data.source.cluster_fraction={cluster_fraction} must lie strictly between 0 and 1")
        if not 0.0 <= young_fraction <= 1.0:
            raise UserError(f"data.source.young_fraction={young_fraction} must lie in [0, 1]")
        if members_per_cluster < 5:
            raise UserError(f"data.source.members_per_cluster={members_per_cluster} must be at least 5")
        if max_distance_pc <= 100:
            raise UserError(f"data.source.max_distance_pc={max_distance_pc} must exceed 100 "
                            "(clusters lie 80 pc or more away)")
        self.num_stars, self.cluster_fraction = num_stars, cluster_fraction
        self.members_per_cluster, self.young_fraction = members_per_cluster, young_fraction
        self.max_distance_pc, self.mag_limit, self.seed = max_distance_pc, mag_limit, seed

    def load(self) -> StarTable:
        return table_from_frame(self.frame(), "synthetic_gaia", "label", GAIA_FEATURES, "sky", SKY_COLUMNS,
                                self.CLASSES, parallax_floor=PARALLAX_FLOOR, id_column=ID_COLUMN)

    # -- the catalogue as a table ------------------------------------------------------------
    def frame(self):
        """The catalogue as a pandas DataFrame (write it with ``to_csv`` / ``to_parquet`` to try a file)."""
        import pandas as pd

        rng = np.random.default_rng(self.seed)
        pos, vel, cls, a_kpc, turnoff = self._stars(rng)
        colour, abs_mag = self._photometry(rng, cls, turnoff)
        distance = np.linalg.norm(pos, axis=1)
        extinction = a_kpc * distance / 1000.0
        for _ in range(100):  # the magnitude limit: redraw what is too faint, like a survey's selection
            faint = abs_mag + 5 * np.log10(distance / 10) + extinction > self.mag_limit
            if not faint.any():
                break
            colour[faint], abs_mag[faint] = self._photometry(rng, cls[faint], turnoff[faint])
        g_true = abs_mag + 5 * np.log10(distance / 10) + extinction
        ra, dec, parallax, pmra, pmdec = _astrometry(pos, vel)
        # noise as a function of G (Gaia DR3-like)
        sigma_parallax = 0.02 * 10 ** (0.26 * np.clip(g_true - 15, 0, None))
        n = len(cls)
        return pd.DataFrame({
            "source_id": np.arange(n),
            "ra": ra, "dec": dec,
            "parallax": parallax + sigma_parallax * rng.standard_normal(n),
            "pmra": pmra + 1.1 * sigma_parallax * rng.standard_normal(n),
            "pmdec": pmdec + 1.1 * sigma_parallax * rng.standard_normal(n),
            "phot_g_mean_mag": g_true + 0.001 * 10 ** (0.2 * np.clip(g_true - 13, 0, None)) * rng.standard_normal(n),
            "bp_rp": colour + extinction / 1.9
            + 0.005 * 10 ** (0.3 * np.clip(g_true - 15, 0, None)) * rng.standard_normal(n),
            "label": np.asarray(self.CLASSES)[cls],
        })

    # -- positions and velocities ------------------------------------------------------------
    def _disc(self, rng: np.random.Generator, n: int, min_distance: float) -> np.ndarray:
        """(n, 3) Galactic x, y, z in pc: uniform in a disc, exponential in height, at least min_distance away."""
        out = np.empty((0, 3))
        while len(out) < n:
            m = 2 * (n - len(out)) + 16
            r = self.max_distance_pc * np.sqrt(rng.random(m))
            phi = 2 * np.pi * rng.random(m)
            z = rng.laplace(0.0, 250.0, m)
            p = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
            d = np.linalg.norm(p, axis=1)
            out = np.concatenate([out, p[(d >= min_distance) & (d <= self.max_distance_pc)]])
        return out[:n]

    def _stars(self, rng: np.random.Generator):
        """Positions (pc) and velocities (km/s) in Galactic coordinates, class per star, extinction
        per kpc and (old clusters) turn-off colour."""
        n_members = int(round(self.num_stars * self.cluster_fraction))
        n_clusters = max(2, int(round(n_members / self.members_per_cluster)))
        weights = rng.lognormal(0.0, 0.5, n_clusters)
        sizes = np.floor(weights / weights.sum() * n_members).astype(int)
        sizes[: n_members - sizes.sum()] += 1  # the remainder, one each
        n_young = int(round(n_clusters * self.young_fraction))
        young = rng.permutation(np.arange(n_clusters) < n_young)

        centre = self._disc(rng, n_clusters, min_distance=80.0)
        radius = rng.uniform(1.5, 5.0, n_clusters)
        bulk_sigma = np.where(young[:, None], [15.0, 10.0, 8.0], [35.0, 25.0, 18.0])
        bulk = np.array([-11.0, -20.0, -7.0]) + bulk_sigma * rng.standard_normal((n_clusters, 3))
        cluster_a = rng.gamma(2.0, 0.4, n_clusters)
        cluster_turnoff = rng.uniform(0.6, 0.9, n_clusters)

        which = np.repeat(np.arange(n_clusters), sizes)  # cluster of every member
        corona = rng.random(n_members) < 0.2
        spread = radius[which] * np.where(corona, 4.0, 1.0)
        member_pos = centre[which] + spread[:, None] * rng.standard_normal((n_members, 3))
        member_vel = bulk[which] + 0.6 * rng.standard_normal((n_members, 3))
        member_a = cluster_a[which] + 0.05 * rng.standard_normal(n_members)

        n_field = self.num_stars - n_members
        field_pos = self._disc(rng, n_field, min_distance=10.0)
        field_vel = np.array([-11.0, -20.0, -7.0]) + np.array([35.0, 25.0, 18.0]) * rng.standard_normal((n_field, 3))
        field_a = rng.gamma(2.0, 0.4, n_field)

        cls = np.concatenate([np.zeros(n_field, dtype=np.int64), np.where(young[which], 1, 2)])
        order = rng.permutation(self.num_stars)  # no class order in the rows
        pos = np.concatenate([field_pos, member_pos])[order]
        vel = np.concatenate([field_vel, member_vel])[order]
        a_kpc = np.clip(np.concatenate([field_a, member_a]), 0.0, None)[order]
        turnoff = np.concatenate([np.zeros(n_field), cluster_turnoff[which]])[order]
        return pos, vel, cls[order], a_kpc, turnoff

    # -- colours and absolute magnitudes -----------------------------------------------------
    @staticmethod
    def _photometry(rng: np.random.Generator, cls: np.ndarray, turnoff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Intrinsic BP-RP and M_G for stars of the given classes (0 field, 1 young, 2 old)."""
        n = len(cls)
        colour = 0.35 + rng.gamma(2.5, 0.3, n)  # main sequence, mostly K and M dwarfs
        old = cls == 2
        colour[old] = turnoff[old] + rng.gamma(2.0, 0.3, int(old.sum()))  # nothing bluer than the turn-off
        u = rng.random(n)
        blue = ((cls == 0) & (u < 0.06)) | ((cls == 1) & (u < 0.15))
        colour[blue] = rng.uniform(-0.3, 0.35, int(blue.sum()))
        abs_mag = np.where(colour >= 0, 0.9 + 4.4 * colour, 0.9 + 9.0 * colour) + 0.3 * rng.standard_normal(n)
        pre_main_sequence = (cls == 1) & (colour > 1.6)
        abs_mag[pre_main_sequence] -= rng.uniform(0.3, 1.2, int(pre_main_sequence.sum()))
        giant = ((cls == 0) & (u > 0.90)) | (old & (u > 0.88))
        colour[giant] = 1.2 + 0.1 * rng.standard_normal(int(giant.sum()))
        abs_mag[giant] = 0.5 + 0.4 * rng.standard_normal(int(giant.sum()))
        return colour, abs_mag


def _astrometry(pos_gal: np.ndarray, vel_gal: np.ndarray) -> tuple[np.ndarray, ...]:
    """ra, dec (deg), parallax (mas), pmra = mu_alpha* and pmdec (mas/yr) from Galactic Cartesian
    positions (pc) and velocities (km/s), both heliocentric."""
    pos = pos_gal @ GALACTIC_TO_ICRS.T  # (stars, 3) ICRS
    vel = vel_gal @ GALACTIC_TO_ICRS.T
    distance = np.linalg.norm(pos, axis=1)
    ra = np.arctan2(pos[:, 1], pos[:, 0])
    dec = np.arcsin(pos[:, 2] / distance)
    # unit vectors towards increasing ra and dec at each star
    e_ra = np.stack([-np.sin(ra), np.cos(ra), np.zeros_like(ra)], axis=1)
    e_dec = np.stack([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)], axis=1)
    parallax = 1000.0 / distance
    pmra = (vel * e_ra).sum(axis=1) * parallax / KM_S_PER_MAS_YR_KPC
    pmdec = (vel * e_dec).sum(axis=1) * parallax / KM_S_PER_MAS_YR_KPC
    return np.degrees(ra) % 360.0, np.degrees(dec), parallax, pmra, pmdec
