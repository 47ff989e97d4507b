"""The dock's results section: the last run's summary, with the model's caveat, the patches skipped
by reason and the warnings of how the input was read, kept on screen and copyable (the message
bar's line is gone at the next message).
"""

from __future__ import annotations

import html

from qgis.core import QgsApplication
from qgis.gui import QgsCollapsibleGroupBox

from reo_plugin.model_card import CAVEAT_COLOUR, ModelCard
from reo_plugin.qt import QtCore, QtGui, QtWidgets
from reo_plugin.reading import WARNING_MARK
from reo_plugin.results import EstimateOutcome

VISIBLE_LINES = 4  # the caveat and the summary line without scrolling; the details scroll


class ResultsPanel(QgsCollapsibleGroupBox):
    """Hidden until the first run ends; then the summary text and a "Copy" button."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Results", parent)
        self.setObjectName("reoResults")
        self.setSaveCollapsedState(False)  # a new result always shows itself
        self.text = QtWidgets.QTextBrowser()
        self.text.setObjectName("reoResultsText")
        self.text.setOpenLinks(False)
        line = self.text.fontMetrics().lineSpacing()
        self.text.setFixedHeight(VISIBLE_LINES * line + 2 * self.text.frameWidth() + 8)
        self.copy_button = QtWidgets.QToolButton()
        self.copy_button.setIcon(QgsApplication.getThemeIcon("/mActionEditCopy.svg"))
        self.copy_button.setText("Copy")
        self.copy_button.setObjectName("reoCopyResults")
        self.copy_button.setToolTip("Copy the summary, the class areas and the files as text.")
        self.copy_button.clicked.connect(self.copy)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.copy_button, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        self._plain = ""
        self.hide()

    def show_outcome(self, outcome: EstimateOutcome, card: ModelCard) -> None:
        """Show a finished run: the caveat first (if the model has one), then the summary, the
        input's warnings in the caveat's colour."""
        self._plain = "\n".join(filter(None, [card.caveat_text(), outcome.details_text()]))
        lines = []
        for line in outcome.details_text().split("\n"):
            text = html.escape(line)
            warned = line.startswith(WARNING_MARK)
            lines.append(f'<span style="color:{CAVEAT_COLOUR}">{text}</span>' if warned else text)
        caveat = f"<p>{card.caveat_html()}</p>" if card.has_caveat else ""
        self.text.setHtml(f"{caveat}<p>{'<br>'.join(lines)}</p>")
        self.setTitle(f"Results — {outcome.out.name}")
        self.setCollapsed(False)
        self.show()

    def plain_text(self) -> str:
        return self._plain

    def copy(self) -> None:
        QtGui.QGuiApplication.clipboard().setText(self._plain)
