"""The family table of the tests: what a small run of each family looks like, and what every family
must show. Scenarios that every family passes are written once, in tests/test_families.py, and
parametrised over FAMILIES; a new family adds one entry here (CONTRIBUTING.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Quiet and single-threaded: no bar or summary in the test log, one torch thread per run.
QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "hardware.num_threads=1"]


@dataclass(frozen=True)
class FamilyCase:
    """A family as the tests know it.

    Args:
        name: the family's tag (trainlab.config.families).
        model, data: its default model and data options.
        small_data: overrides that keep its default data small.
        small_model: overrides that keep its default model small.
        other_data: a data option of another family, which its model must refuse, and the start of
            the options the refusal must list.
        resume: extra overrides for the resume test (dropout, shuffling or sampling that a resume
            must reproduce exactly), its epochs before and after the stop, and the metrics compared.
        metrics: keys that its runs log under val/ and test/ (beside ``loss``).
        search_keys: keys its search space (hparams_search/space/<model>) must contain.
    """

    name: str
    model: str
    data: str
    small_data: list[str]
    small_model: list[str]
    other_data: tuple[str, str]
    resume: list[str] = field(default_factory=list)
    resume_epochs: tuple[int, int] = (2, 4)
    resume_keys: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    search_keys: tuple[str, ...] = ()

    def tiny(self) -> list[str]:
        """A small two-epoch run of the family's default model on its default data."""
        return [f"model={self.model}", f"data={self.data}", *self.small_data, *self.small_model,
                "trainer.max_epochs=2", *QUIET]


TIMESERIES = FamilyCase(
    name="timeseries", model="lstm", data="synthetic",
    small_data=["data.source.num_rows=600"],
    small_model=["data.window=16", "model.net.hidden_size=16", "model.net.num_layers=1"],  # window: any series
    other_data=("gaia", "data=elnino or data=file or data=packaged or data=synthetic"),
    resume=["model.net.num_layers=2", "model.net.dropout=0.3"],
    resume_keys=("val/loss", "val/rmse", "test/rmse", "test/r2", "objective"),
    metrics=("rmse", "mape", "r2", "aaa"),
    search_keys=("model.net.hidden_size", "model.net.num_layers", "optimizer.lr"),
)
GRAPH = FamilyCase(
    name="graph", model="gnn", data="gaia",
    small_data=["data.source.num_stars=600"],
    small_model=["model.net.hidden_channels=16"],
    other_data=("synthetic", "data=catalogue or data=gaia"),
    # ego-net order and dropout come from (seed, epoch)
    resume=["hardware.max_nodes_per_graph=200", "data.k=4", "data.batch_size=16", "model.net.dropout=0.3",
            "logger=none"],
    resume_keys=("val/loss", "val/accuracy", "test/loss", "test/auroc", "objective"),
    metrics=("accuracy", "auroc", "f1_macro", "mcc", "balanced_accuracy", "ece", "brier"),
    search_keys=("model.net.conv", "model.net.hidden_channels", "model.net.num_layers", "optimizer.lr"),
)
IMAGE = FamilyCase(
    name="image", model="unet", data="sky",
    small_data=["data.source.tile_size=32", "data.source.num_tiles=12"],
    small_model=["model.net.base_channels=8", "model.net.depth=2"],
    other_data=("synthetic", "data=sky or data=sky_folder"),
    resume=["model.net.dropout=0.2"],  # with the data's flips and rotations, seeded per epoch
    resume_epochs=(1, 2),
    resume_keys=("val/loss", "val/iou", "val/auroc", "test/loss", "test/iou", "test/pixel_auprc", "objective"),
    metrics=("iou", "dice", "pixel_auprc", "accuracy", "balanced_accuracy", "f1_macro", "f1_micro", "f1_weighted",
             "precision_macro", "recall_weighted", "auroc", "auprc", "mcc", "ece", "brier"),
    search_keys=("model.net.base_channels", "model.net.depth", "model.pos_weight", "optimizer.lr"),
)

FAMILIES = {case.name: case for case in (TIMESERIES, GRAPH, IMAGE)}
