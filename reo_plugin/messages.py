"""Messages in QGIS's message bar, with a "Details" button when there is more to say."""

from __future__ import annotations

from qgis.core import Qgis
from qgis.gui import QgsMessageBar

from reo_plugin.qt import QtWidgets

ERROR_COLOUR = "#b00020"  # dark red: what stops a run, in the dock and the chat
UNTIL_CLOSED = 0  # a message duration: it stays until closed (a run's summary is worth reading)
TITLE = "REO"


def push(
    bar: QgsMessageBar,
    text: str,
    level: Qgis.MessageLevel = Qgis.MessageLevel.Info,
    details: str | None = None,
    title: str = TITLE,
    duration: int = UNTIL_CLOSED,
) -> None:
    """Show ``text`` in ``bar``; ``details`` go behind a button (a dialog with the full text)."""
    if not details:
        bar.pushMessage(title, text, level=level, duration=duration)
        return
    widget = bar.createMessage(title, text)
    button = QtWidgets.QPushButton("Details…", widget)
    button.clicked.connect(lambda: show_details(bar, title, text, details))
    widget.layout().addWidget(button)
    bar.pushWidget(widget, level, duration)


def show_details(parent: QtWidgets.QWidget | None, title: str, text: str, details: str) -> None:
    box = QtWidgets.QMessageBox(parent)
    box.setWindowTitle(title)
    box.setIcon(QtWidgets.QMessageBox.Icon.Information)
    box.setText(text)
    box.setDetailedText(details)
    box.exec()


def bar_texts(bar: QgsMessageBar) -> list[str]:
    """Title and text of every message in ``bar`` (for tests and for the log)."""
    texts = [f"{item.title()}: {item.text()}" for item in bar.items()]
    recorded = getattr(bar, "messages", None)  # pytest-qgis's stub bar records pushMessage
    if isinstance(recorded, dict):
        texts += [text for messages in recorded.values() for text in messages]
    return texts
