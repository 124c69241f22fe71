"""A YAML syntax error reads the same wherever a file is loaded: the file, the line, what is wrong."""

from __future__ import annotations

import re

import pytest

from hermes4.forge.graph import GraphError
from hermes4.forge.loader import load_graph
from hermes4.recipe.config import RecipeError, read_recipe_file
from hermes4.store.readers import parse_yaml
from hermes4.train.config import ConfigError, load_length_control_config, load_train_config

BROKEN = "name: x\ntrain:\n  steps: [1, 2\n  lr: 3\n"  # the flow sequence on line 3 never closes


def test_parse_yaml_names_the_place_and_line():
    assert parse_yaml("a: [1, 2]\n", "f.yaml") == {"a": [1, 2]}
    with pytest.raises(ValueError, match=r"^f\.yaml: line 4: invalid YAML: ") as info:
        parse_yaml(BROKEN, "f.yaml", ValueError)
    assert info.type is ValueError


@pytest.mark.parametrize(
    ("load", "error"),
    [(read_recipe_file, RecipeError), (load_train_config, ConfigError), (load_length_control_config, ConfigError), (load_graph, GraphError)],
)
def test_every_loader_reports_a_syntax_error_with_its_line(tmp_path, load, error):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(error, match=rf"^{re.escape(str(path))}: line 4: invalid YAML: "):
        load(path)
