"""The chat panel: questions about the picked patch and the model's answers.

It only shows things and emits ``questionAsked(text)``; the controller sends the question to the
worker and calls ``add_answer`` / ``add_error`` with what comes back.
"""

from __future__ import annotations

import html

from reo_plugin.band_table import compact
from reo_plugin.messages import ERROR_COLOUR
from reo_plugin.model_card import ModelCard
from reo_plugin.qt import QtCore, QtWidgets, Signal
from reo_plugin.results import AskAnswer

SUGGESTIONS = (
    "What is the above-ground biomass of this patch?",
    "What is the main land cover here?",
    "How many ecological patches does this area have?",
    "Is there any sign of human activity?",
)


class ChatPanel(QtWidgets.QWidget):
    """Patch picker button, transcript, question box."""

    questionAsked = Signal(str)  # noqa: N815
    pickToggled = Signal(bool)  # noqa: N815

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reoChatPanel")
        self.pick_button = QtWidgets.QPushButton("Pick a patch on the map")
        self.pick_button.setObjectName("reoPickPatch")
        self.pick_button.setCheckable(True)
        self.pick_button.setToolTip(
            "Then click the map: the 250 m patch under the cursor is outlined."
        )
        self.pick_button.toggled.connect(self.pickToggled)
        self.patch_label = QtWidgets.QLabel("No patch picked yet.")
        self.patch_label.setObjectName("reoPatchLabel")
        self.patch_label.setWordWrap(True)
        self.caveat = QtWidgets.QLabel("")  # the model's caveat, beside every answer it gives
        self.caveat.setObjectName("reoChatCaveat")
        self.caveat.setWordWrap(True)
        self.caveat.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.caveat.hide()
        self.transcript = QtWidgets.QTextBrowser()
        self.transcript.setObjectName("reoTranscript")
        self.transcript.setOpenExternalLinks(False)
        self.question = QtWidgets.QComboBox()
        self.question.setObjectName("reoQuestion")
        self.question.setEditable(True)
        self.question.addItems(SUGGESTIONS)
        self.question.setCurrentText("")
        self.question.lineEdit().setPlaceholderText("Ask about the patch…")
        compact(self.question, characters=20)  # the suggestions are long; the dock is narrow
        self.question.lineEdit().returnPressed.connect(self._ask)
        self.send_button = QtWidgets.QPushButton("Ask")
        self.send_button.setObjectName("reoAsk")
        self.send_button.clicked.connect(self._ask)
        self.busy = QtWidgets.QLabel("")
        self.busy.setObjectName("reoChatStatus")

        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.question, 1)
        row.addWidget(self.send_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.pick_button)
        layout.addWidget(self.patch_label)
        layout.addWidget(self.caveat)
        layout.addWidget(self.transcript, 1)
        layout.addLayout(row)
        layout.addWidget(self.busy)
        self.set_busy(False)

    def set_patch(self, bounds: tuple[float, float, float, float], crs: str) -> None:
        xmin, ymin, xmax, ymax = bounds
        self.patch_label.setText(
            f"Patch {xmax - xmin:.0f} m × {ymax - ymin:.0f} m, centre "  # noqa: RUF001
            f"{(xmin + xmax) / 2:,.1f}, {(ymin + ymax) / 2:,.1f} ({crs})."
        )

    def set_model_card(self, card: ModelCard) -> None:
        """Show the model's caveat above the answers; a model without one shows nothing here."""
        self.caveat.setText(card.caveat_html())
        self.caveat.setVisible(card.has_caveat)

    def set_busy(self, busy: bool, message: str = "") -> None:
        self.send_button.setEnabled(not busy)
        self.busy.setText(message if busy else "")

    def add_question(self, text: str) -> None:
        self._append(f"<p><b>You:</b> {html.escape(text)}</p>")

    def add_answer(self, answer: AskAnswer) -> None:
        extra = ""
        if answer.agb_text is not None and answer.agb_text not in answer.text:
            extra = f"<br><i>AGB: {html.escape(answer.agb_text)}</i>"
        self._append(f"<p><b>REO:</b> {html.escape(answer.text or '(no answer)')}{extra}</p>")

    def add_error(self, message: str) -> None:
        self._append(
            f"<p style='color:{ERROR_COLOUR}'><b>REO could not answer:</b> "
            f"{html.escape(message)}</p>"
        )

    def _append(self, fragment: str) -> None:
        self.transcript.append(fragment)

    def _ask(self) -> None:
        text = self.question.currentText().strip()
        if not text or not self.send_button.isEnabled():
            return
        self.question.setCurrentText("")
        self.questionAsked.emit(text)
