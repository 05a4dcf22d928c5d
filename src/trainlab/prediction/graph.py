"""predict.py for a graph run: the classes of the stars of a catalogue, whose labels, if any, are not read.

The catalogue (``catalogue=<file>``, CSV, Parquet, ECSV, VOTable, FITS or a workbook's sheet, ``sheet=``) is read as the run's own source read its file: the
same feature, position and identifier columns, angle units, parallax floor and missing-value policy; its
class column may be absent or empty, or hold labels, which are left out (said once). Its stars are joined to their ``data.k`` nearest neighbours as the
run's data module joins them, their features filled with the checkpoint's training medians (and the
run's "was missing" columns), their category columns encoded in the checkpoint's categories (a value the
training stars never held: none of them) and scaled with the checkpoint's statistics; nothing is fit on these stars.
The GNN then classifies every star in the graph (the whole graph, or ego nets with every neighbour when
it exceeds the run's node budget, as evaluate.py reads a split). Writes ``predictions.csv`` (identifier,
predicted class, a probability per class) and ``predictions_map.png`` (the stars coloured by class).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from trainlab.config.errors import UserError
from trainlab.data.graph.catalogue import StarTable, table_from_frame
from trainlab.data.graph.columns import match_case
from trainlab.data.graph.module import StarGraphDataModule
from trainlab.data.graph.sky import convert_file_units

log = logging.getLogger(__name__)

FILES = ["predictions.csv", "predictions_map.png"]


def reading_of(source: Any) -> dict[str, Any]:
    """How the run's source read its catalogue: the arguments of :func:`table_from_frame` but path and classes."""
    from trainlab.data.graph.catalogue import GAIA_FEATURES, PARALLAX_FLOOR, SKY_COLUMNS, StarCatalogue
    from trainlab.data.graph.columns import ID_COLUMN
    from trainlab.data.graph.synthetic import SyntheticGaia

    if isinstance(source, SyntheticGaia):  # its frame is read as a file of these columns would be
        return {"label_column": "label", "feature_columns": list(GAIA_FEATURES), "position": "sky",
                "position_columns": list(SKY_COLUMNS), "parallax_floor": PARALLAX_FLOOR, "missing": "impute",
                "id_column": ID_COLUMN, "angle_units": "deg", "categorical_columns": []}
    if isinstance(source, StarCatalogue):
        return {"label_column": source.label_column, "feature_columns": list(source.feature_columns),
                "position": source.position, "position_columns": source.position_columns,
                "parallax_floor": source.parallax_floor, "missing": source.missing, "id_column": source.id_column,
                "angle_units": source.angle_units, "categorical_columns": list(source.categorical_columns)}
    raise UserError(f"predict.py reads catalogues for runs on a catalogue file or the synthetic Gaia catalogue; this "
                    f"run's data.source is {type(source).__name__}")


class UnlabelledCatalogue:
    """The source of ``catalogue=<file>``: read with the run's ``reading`` (:func:`reading_of`), each star
    given the first of ``class_names`` as a stand-in label (nothing is scored or fit on them)."""

    # the run's category columns, every other feature numbers, codes ('4G') too (set by read_as_saved: categories.read_by)
    saved_categories: tuple[str, ...] = ()
    saved_kinds = False

    def __init__(self, path: str, reading: dict[str, Any], class_names: Sequence[str], k: int, sheet: Any = None):
        self.path, self.reading, self.class_names, self.k = str(path), reading, [str(c) for c in class_names], k
        self.sheet = sheet  # predict.py's sheet=: the sheet of a workbook

    def load(self) -> StarTable:
        from trainlab.data.files import read_frame

        frame = read_frame(self.path, "catalogue", self.sheet, "sheet")
        frame.columns = [str(c) for c in frame.columns]
        reading = self.reading
        position_columns = reading["position_columns"] or (["ra", "dec", "parallax"] if reading["position"] == "sky"
                                                           else ["x", "y", "z"])
        wanted = [*reading["feature_columns"], *position_columns]
        if reading["id_column"] and reading["id_column"] != "source_id":  # source_id: taken when there
            wanted.append(reading["id_column"])
        match_case(frame, [*wanted, reading["label_column"]], self.path)
        absent = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
        if absent:
            raise UserError(f"catalogue={self.path} lacks column(s) {absent}, which the run read (features "
                            f"{reading['feature_columns']}, positions {list(position_columns)}); its columns are "
                            f"{list(frame.columns)}: {_renames(frame, absent, wanted)}")
        label = reading["label_column"]
        if label in frame.columns:
            values = frame[label]
            labelled = values.notna() & (values.astype(str).str.strip() != "")
            if labelled.any():  # a labelled catalogue, to compare: predicted as any other, its labels unread
                log.warning(f"catalogue={self.path} has {int(labelled.sum())} label(s) in column '{label}': left out, "
                            "each star is classified from the run's features alone; to score the predictions "
                            f"against these labels, python evaluate.py ckpt_path=<run> +data.source.path={self.path}")
        frame[label] = self.class_names[0]
        if reading["position"] == "sky":  # its units as the file states them, into the run's (fixed here)
            convert_file_units(frame, list(position_columns), reading["angle_units"], self.path)
        table = table_from_frame(frame, self.path, label, reading["feature_columns"], reading["position"],
                                 position_columns, self.class_names, reading["parallax_floor"], reading["missing"],
                                 reading["id_column"] if reading["id_column"] in frame.columns else None,
                                 reading["angle_units"], list(dict.fromkeys([*reading["categorical_columns"], *(
                                     c for c in self.saved_categories if c in reading["feature_columns"])])),
                                 units_kept=True, codes=not self.saved_kinds)
        if len(table.labels) <= self.k:
            raise UserError(f"catalogue={self.path} has {len(table.labels)} star(s) to place; the run joins each to "
                            f"its data.k={self.k} nearest neighbours, which needs at least {self.k + 1}: give a larger "
                            "catalogue")
        return table


def _renames(frame: Any, absent: list[str], wanted: list[str]) -> str:
    """The fix of a catalogue that lacks run columns: where it holds them under an archive's names (VizieR's
    RA_ICRS, DE_ICRS, Plx for ra, dec, parallax), the columns to rename, as train.py offers them as settings
    (predict.py keeps its run's settings: the file's names are what can change); else the plain advice."""
    from trainlab.data.graph.columns import ARCHIVE_SPELLINGS
    from trainlab.data.timeseries.values import archive_spelled

    free = [c for c in frame.columns if c not in wanted]  # a column the run reads as itself is never renamed
    found = {n: c for n, c in archive_spelled(free, absent, ARCHIVE_SPELLINGS).items() if c is not None}
    if not found:
        return "give a catalogue with the run's columns, named as in its file"
    renames = ", ".join(f"{c} to {n}" for n, c in found.items())
    rest = [n for n in absent if n not in found]
    more = f", and add {rest}" if rest else ""
    return (f"it holds {len(found)} of them under an archive's names: rename {renames} in the file{more} "
            "(predict.py reads the columns its run read, by their names)")


class UnlabelledStarGraph(StarGraphDataModule):
    """The run's graph data module over a catalogue, its labels unread: no split (every star is in the test
    split, which the evaluation loaders cover), medians, indicator columns and scaling from the checkpoint."""

    def _split_masks(self) -> dict[str, np.ndarray]:
        if self.masks is None:
            n = len(self.load().labels)
            self.masks = {"train": np.zeros(n, bool), "val": np.zeros(n, bool), "test": np.ones(n, bool)}
        return self.masks

    def _class_counts(self) -> str:
        return f"{self.class_names} to predict (no labels)"


def restore_unlabelled(run_cfg: Any, saved: dict, ckpt: str, catalogue: Any, sheet: Any = None,
                       ) -> tuple[Any, UnlabelledStarGraph]:
    """(task module, data module) of the run over ``catalogue`` (``sheet``: a workbook's): the checkpoint's weights
    and data state."""
    from trainlab.run.pipeline import build_data
    from trainlab.run.restore import with_saved_weights
    from trainlab.run.trained import with_trained

    run_cfg = with_trained(run_cfg, "data", saved)  # what the config leaves to defaults, as it was trained
    run_data = build_data(run_cfg)  # the run's own settings, its source unread
    state = saved.get(type(run_data).__qualname__)
    if not state or "impute_value" not in state:
        raise UserError(f"'{ckpt}' keeps no training medians and 'was missing' columns of its data (written before "
                        "they were saved): predict.py cannot fill or scale a catalogue as it was trained; retrain it")
    class_names = (saved.get("hyper_parameters") or {}).get("class_names")
    if not class_names:
        raise UserError(f"'{ckpt}' does not name its classes (hyper_parameters.class_names); retrain it")
    source = UnlabelledCatalogue(catalogue, reading_of(run_data.source), class_names, run_data.k, sheet)
    data = UnlabelledStarGraph(source, k=run_data.k, density_feature=run_data.density_feature,
                               batch_size=run_data.batch_size, val_batch_multiplier=run_data.batches.val_batch_multiplier,
                               sampler=run_data.batches.sampler, num_hops=run_data.batches.num_hops,
                               max_nodes_per_graph=run_data.batches.max_nodes_per_graph, seed=run_data.seed)
    data.loader_kwargs = run_data.loader_kwargs
    data.of_a_saved_run()
    data.read_as_saved(state)  # its column kinds before the catalogue is read: categories, and numbers ('4G' too)
    data.load_state_dict(state)  # before the graph: its features are filled and scaled with these
    data.setup("test")
    return with_saved_weights(run_cfg, saved, data, ckpt), data


def classify(model: Any, data: UnlabelledStarGraph, device: Any) -> tuple[np.ndarray, np.ndarray]:
    """(stars,) node indices and (stars, classes) probabilities of every star, as evaluate.py predicts a split."""
    from trainlab.evaluation.graph import predict

    model.to(device)
    probs, _, nodes = predict(model, data.test_dataloader())
    order = np.argsort(nodes.numpy(), kind="stable")  # ego-net batches come in seed order; rows in file order
    return nodes.numpy()[order], probs.numpy()[order]


def write(data: UnlabelledStarGraph, nodes: np.ndarray, probs: np.ndarray, names: list[str], out_dir: Path) -> Any:
    """predictions.csv and predictions_map.png into ``out_dir``; the csv's rows."""
    import pandas as pd

    from trainlab.data.csv_writing import as_csv
    from trainlab.evaluation.graph import plot_map
    from trainlab.run.durable import write_atomic

    table = data.table
    predicted = probs.argmax(axis=1)
    frame = pd.DataFrame({table.id_name: table.ids[nodes], "predicted": np.asarray(names)[predicted]})
    for k, name in enumerate(names):
        frame[f"p_{name}"] = probs[:, k]
    write_atomic(out_dir / FILES[0], as_csv(frame, table.written_as, float_format="%.6g"))  # as the catalogue is
    plot_map(table.map_plane(nodes), None, predicted, names, out_dir / FILES[1], table.name)
    return frame


def check_catalogue(catalogue: Optional[Any]) -> None:
    if catalogue is None:
        raise UserError("catalogue=<file> is required for a graph run: the stars (CSV, Parquet, ECSV, VOTable, FITS or a workbook, the run's columns; "
                        "labels, if any, are left out) to classify, e.g. catalogue=new_stars.csv")
