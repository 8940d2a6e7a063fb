"""The join dialog: paste an invite link, or start a new room on a server; choose your name."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from holocall_desktop.transport.api import CallConfig
from holocall_desktop.transport.invite import InviteError, parse_invite
from holocall_desktop.ui.settings import AppSettings


class JoinDialog(QDialog):
    def __init__(
        self, server: str, name: str, user_id: str, invite: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Join a call")
        self._user_id = user_id
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.join_radio = QRadioButton("Join with an invite link")
        self.create_radio = QRadioButton("Start a new room")
        group = QButtonGroup(self)
        group.addButton(self.join_radio)
        group.addButton(self.create_radio)
        self.invite_edit = QLineEdit(invite)
        self.invite_edit.setPlaceholderText("holocall://host:3000/room?invite=…")
        self.server_edit = QLineEdit(server)
        self.server_edit.setPlaceholderText("http://host:3000")
        self.name_edit = QLineEdit(name)
        self.name_edit.setMaxLength(40)
        form.addRow(self.join_radio)
        form.addRow("Invite link", self.invite_edit)
        form.addRow(self.create_radio)
        form.addRow("Server", self.server_edit)
        form.addRow("Your name", self.name_edit)
        layout.addLayout(form)
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #e57373")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Join")
        buttons.accepted.connect(self._try_accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        (self.join_radio if invite or not server else self.create_radio).setChecked(True)
        self.join_radio.toggled.connect(self._sync_enabled)
        self._sync_enabled()
        self._config: CallConfig | None = None

    def _sync_enabled(self) -> None:
        joining = self.join_radio.isChecked()
        self.invite_edit.setEnabled(joining)
        self.server_edit.setEnabled(not joining)

    def config(self) -> CallConfig:
        """The call to start, or ``ValueError`` with a message for the user."""
        name = self.name_edit.text().strip()
        if not name:
            raise ValueError("Please enter your name: the others see it above your hologram.")
        if self.join_radio.isChecked():
            try:
                invite = parse_invite(self.invite_edit.text())
            except InviteError as exc:
                raise ValueError(str(exc)) from None
            return CallConfig(
                server=invite.server,
                user_id=self._user_id,
                display_name=name,
                room_id=invite.room_id,
                invite_secret=invite.invite_secret,
            )
        server = self.server_edit.text().strip().rstrip("/")
        if not server.startswith(("http://", "https://")):
            raise ValueError("The server address starts with http:// or https://")
        return CallConfig(server=server, user_id=self._user_id, display_name=name, create_room=True)

    def _try_accept(self) -> None:
        try:
            self._config = self.config()
        except ValueError as exc:
            self.error_label.setText(str(exc))
            return
        self.accept()

    @property
    def result_config(self) -> CallConfig | None:
        return self._config


def ask_join(settings: AppSettings, parent: QWidget | None = None) -> CallConfig | None:
    """Ask where to join (the saved server, name and id filled in); None when cancelled."""
    dialog = JoinDialog(
        settings.call_server, settings.display_name, settings.user_id, parent=parent
    )
    if dialog.exec() == JoinDialog.DialogCode.Accepted:
        return dialog.result_config
    return None
