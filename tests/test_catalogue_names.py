"""A catalogue's label or identifier column named near the file's (labels for label, sourceid for source_id) gets
the setting that names it, as a series file's columns do; the refusal gave the file's columns alone."""

from __future__ import annotations

import pytest

from tests.test_graph import catalogue_file
from trainlab.config.errors import UserError
from trainlab.data.graph.catalogue import StarCatalogue
from trainlab.data.graph.synthetic import SyntheticGaia


@pytest.mark.parametrize("settings,fix", [
    ({"label_column": "labels"}, "data.source.label_column=label"),
    ({"label_column": "label", "id_column": "sourceid"}, "data.source.id_column=source_id"),
])
def test_a_near_column_name_gets_its_setting(tmp_path, settings, fix):
    path = catalogue_file(tmp_path, SyntheticGaia(200, seed=5).frame())
    with pytest.raises(UserError, match=rf"not in '.*stars.csv'; its columns are .*; did you mean {fix}\?$"):
        StarCatalogue(path, **settings).load()


def test_a_label_far_from_every_column_gets_the_columns_alone(tmp_path):
    path = catalogue_file(tmp_path, SyntheticGaia(200, seed=5).frame())
    with pytest.raises(UserError, match=r"'member' not in '.*stars.csv'; its columns are \[[^]]*\]$"):
        StarCatalogue(path, "member").load()
