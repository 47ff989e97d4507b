"""The model's nature beside its numbers: the demo model's caveat shows next to the model chooser,
in the results, the message bar, the chat and the layers; a model that states no caveat shows
none."""

from __future__ import annotations

import json
import shutil

import pytest
from plugin_helpers import set_extent

from reo_plugin.locations import DEMO_MODEL_DIR
from reo_plugin.messages import bar_texts
from reo_plugin.model_card import CAVEAT_MARK, CAVEAT_TAG, ModelCard, model_card
from reo_plugin.qt import QtCore

DEMO_CAVEAT = "Demo model: its numbers say nothing about real places."


@pytest.fixture(scope="module")
def model_without_caveat(tmp_path_factory):
    """The demo model's weights in a folder whose config states what it was trained on and no
    caveat, as a model for real use would."""
    root = tmp_path_factory.mktemp("real-model")
    folder = root / "model"
    shutil.copytree(DEMO_MODEL_DIR, folder)
    (root / "base").symlink_to(DEMO_MODEL_DIR.parent / "base", target_is_directory=True)
    config = json.loads((folder / "reo_config.json").read_text())
    del config["extra"]["caveat"]
    config["extra"]["trained_on"] = "AGBD 2019-2020 (Sentinel-2 L2A, GEDI L4A)"
    (folder / "reo_config.json").write_text(json.dumps(config, indent=2))
    return folder


def test_the_demo_model_states_its_caveat_in_its_config():
    card = model_card(DEMO_MODEL_DIR)
    assert card.caveat == DEMO_CAVEAT and "synthetic" in card.trained_on
    assert card.line().endswith(f"{CAVEAT_MARK} {DEMO_CAVEAT}")


def test_a_config_without_a_card_line_states_nothing(tmp_path):
    assert ModelCard.from_config({"modality": "ms"}) == ModelCard()
    assert ModelCard.from_config({"extra": {"caveat": 3, "trained_on": ["x"]}}) == ModelCard()
    assert ModelCard().line() == "" and not ModelCard().has_caveat
    assert model_card(tmp_path) == ModelCard()  # not a model folder: the chooser says why


def test_the_caveat_shows_beside_the_model_chooser_and_in_the_chat(dock, model_without_caveat):
    dock.model_path.setFilePath(str(DEMO_MODEL_DIR))
    assert DEMO_CAVEAT in dock.model_card.text() and not dock.model_card.isHidden()
    assert DEMO_CAVEAT in dock.chat.caveat.text() and not dock.chat.caveat.isHidden()
    dock.model_path.setFilePath(str(model_without_caveat))
    assert dock.model_card.text() == "Trained on AGBD 2019-2020 (Sentinel-2 L2A, GEDI L4A)."
    assert CAVEAT_MARK not in dock.model_card.text()
    assert dock.chat.caveat.isHidden()


def run(qtbot, dock, controller) -> str:
    with qtbot.waitSignal(controller.estimateFinished, timeout=120_000) as finished:
        qtbot.mouseClick(dock.estimate_button, QtCore.Qt.MouseButton.LeftButton)
    assert finished.args == ["succeeded"], controller.last_error
    return dock.results.plain_text()


def reo_group(project):
    return project.layerTreeRoot().children()[0]


def test_the_demo_models_numbers_come_with_its_caveat(
    qtbot, project, s2_layer, dock, controller, qgis_iface
):
    dock.model_path.setFilePath(str(DEMO_MODEL_DIR))
    dock.s2_layer.setLayer(s2_layer)
    set_extent(dock)
    results = run(qtbot, dock, controller)
    assert results.startswith(f"{CAVEAT_MARK} {DEMO_CAVEAT}\n")
    assert any(DEMO_CAVEAT in text for text in bar_texts(qgis_iface.messageBar()))
    group = reo_group(project)
    assert group.name().endswith(f"({CAVEAT_TAG})")
    for child in group.children():
        assert child.layer().abstract() == model_card(DEMO_MODEL_DIR).line()


def test_a_model_without_a_caveat_shows_none(
    qtbot, project, s2_layer, dock, controller, qgis_iface, model_without_caveat
):
    dock.model_path.setFilePath(str(model_without_caveat))
    dock.s2_layer.setLayer(s2_layer)
    set_extent(dock)
    results = run(qtbot, dock, controller)
    assert CAVEAT_MARK not in results and results.startswith("Total AGB")
    assert not any(CAVEAT_MARK in text for text in bar_texts(qgis_iface.messageBar()))
    group = reo_group(project)
    assert CAVEAT_TAG not in group.name()
    for child in group.children():
        assert child.layer().abstract() == "Trained on AGBD 2019-2020 (Sentinel-2 L2A, GEDI L4A)."
