"""Adapter: the room model and the local media, drawn in a :class:`HoloScene`.

:class:`RoomView` subscribes to a :class:`~holocall_desktop.session.room.RoomModel` (napari's
``VispyPointsLayer`` pattern): participants appear, change, take their seats, speak and leave
in the scene because the room said so; nothing else writes the scene's participants. Outside a
call it shows your own preview at the table (``SELF_ID``); in a call your own picture moves to
the self-view in the corner. Everything runs on the GUI thread.

A participant who sends a hologram but whose avatar frames arrive (the network to us carries
only their avatar, the quality ladder's avatar rung) is drawn as the avatar until a hologram
frame comes again.

A participant whose camera is plain video (a browser, ``MediaMode.VIDEO``) is drawn as its
picture on a :class:`~holocall_desktop.render.video_panel.VideoPanels` panel at its seat.

A shared screen is drawn on the :class:`~holocall_desktop.render.screen_panel.ScreenPanel`
behind the table: the latest participant to start sharing is shown (when they stop, the one
before them, if still sharing).
"""

from __future__ import annotations

from collections.abc import Sequence

from vispy.scene.visuals import Text

from holocall_desktop.avatar.tracker import TrackingState
from holocall_desktop.model import DepthFrame
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.model.room import seat_at
from holocall_desktop.render.scene import HoloScene
from holocall_desktop.render.screen_panel import ScreenPanel
from holocall_desktop.render.video_panel import VideoPanels
from holocall_desktop.session.call import CallSession
from holocall_desktop.session.media import LocalOutput
from holocall_desktop.session.room import (
    ParticipantAdded,
    ParticipantChanged,
    ParticipantRemoved,
    RoomEvent,
    RoomModel,
    SeatsChanged,
)
from holocall_desktop.transport.api import (
    MediaMode,
    RemoteAvatar,
    RemoteFrame,
    RemoteScreen,
    RemoteVideo,
)

SELF_ID = "self"
NO_FACE = "No face found: look at the camera (your avatar holds still)"


class RoomView:
    def __init__(self, scene: HoloScene, room: RoomModel) -> None:
        self.scene = scene
        self.room = room
        self.in_call = False
        #: participants in hologram mode drawn as their avatar (the network's stand-in)
        self.standing_in: set[str] = set()
        self.screen = ScreenPanel(scene)
        self.videos = VideoPanels(scene)  # participants whose camera is plain video
        self.face_notice = Text(
            NO_FACE, color=(1.0, 0.85, 0.4, 1.0), font_size=11, anchor_x="center",
            anchor_y="top", parent=scene.canvas.scene,
        )  # fmt: skip
        self.face_notice.visible = False
        self.sharers: list[str] = []  # who shares a screen, in the order they started
        self._unsubscribe = room.subscribe(self._on_event)

    # ---- the room ----------------------------------------------------------------------------

    def _on_event(self, event: RoomEvent) -> None:
        scene = self.scene
        if isinstance(event, ParticipantAdded):
            p = event.participant
            scene.add_participant(p.user_id, p.name, animate=True)
            scene.use_avatar(p.user_id, p.mode is MediaMode.AVATAR)
            if p.screen is not None:
                self._sharing(p.user_id, True)
        elif isinstance(event, ParticipantChanged):
            p = event.participant
            if p.user_id not in scene.participants:
                return
            if p.name != event.previous.name:
                scene.set_name(p.user_id, p.name)
            if p.mode != event.previous.mode:
                self.standing_in.discard(p.user_id)
                self.videos.remove(p.user_id)
                scene.use_avatar(p.user_id, p.mode is MediaMode.AVATAR)
            if p.speaking != event.previous.speaking:
                scene.set_highlight(p.user_id, p.speaking)
            if p.screen != event.previous.screen or p.name != event.previous.name:
                self._sharing(p.user_id, p.screen is not None)
        elif isinstance(event, ParticipantRemoved):
            self.standing_in.discard(event.participant.user_id)
            self.videos.remove(event.participant.user_id)
            self._sharing(event.participant.user_id, False)
            scene.remove_participant(event.participant.user_id, animate=self.in_call)
        elif isinstance(event, SeatsChanged) and self.in_call:
            for uid, seat in event.seats.items():
                if uid in scene.participants:
                    scene.participants[uid].seat_index = seat
            scene.set_seat_count(event.count)  # places everyone

    def _sharing(self, user_id: str, on: bool) -> None:
        if user_id in self.sharers and not on:
            self.sharers.remove(user_id)
        elif on and user_id not in self.sharers:
            self.sharers.append(user_id)
        shown = self.sharers[-1] if self.sharers else None
        p = self.room.participants.get(shown) if shown is not None else None
        if p is None or p.screen is None:
            self.screen.hide()
        else:
            title = f"{p.name} — {p.screen.title}" if p.screen.title else p.name
            self.screen.show(p.user_id, title)

    def show_screens(self, pictures: list[RemoteScreen]) -> None:
        """New pictures of shared screens (the one shown goes on the panel)."""
        for picture in pictures:
            if picture.user_id == self.screen.sharer:
                self.screen.set_picture(picture.image)

    def show_call(self, call: CallSession) -> int:
        """Everything new from the call: holograms, avatars, camera pictures and anchors (a
        participant's own ``anchor_sync`` places it in the room); how many holograms."""
        for anchor in call.take_anchors():
            uid = anchor.user_id
            if anchor.participant_id == uid and uid in self.scene.participants:
                seat = self.scene.participants[uid].seat_index
                self.scene.set_placement(uid, seat_at(seat, anchor.position, anchor.rotation))
        return self.show_remote(call.take_frames(), call.take_avatars(), call.take_videos())

    def show_remote(
        self,
        frames: list[RemoteFrame],
        avatars: list[RemoteAvatar],
        videos: Sequence[RemoteVideo] = (),
    ) -> int:
        """Hand new remote frames (holograms, avatars, plain camera pictures) to the scene;
        returns how many holograms were new."""
        for video in videos:
            p = self.room.participants.get(video.user_id)
            if p is not None and p.mode is MediaMode.VIDEO:
                self.videos.set_picture(video.user_id, video.image)
        for avatar in avatars:
            uid = avatar.user_id
            if uid in self.scene.participants:
                self.scene.set_avatar_frame(uid, avatar.frame)
                p = self.room.participants.get(uid)
                if p is not None and p.mode is MediaMode.VOLUMETRIC and uid not in self.standing_in:
                    self.standing_in.add(uid)  # the network carries only their avatar to us
                    self.scene.use_avatar(uid, True)
        shown = 0
        for remote in frames:
            if remote.user_id in self.scene.participants:
                self.scene.set_frame(remote.user_id, remote.frame)
                if remote.user_id in self.standing_in:
                    self.standing_in.discard(remote.user_id)
                    self.scene.use_avatar(remote.user_id, False)
                shown += 1
        return shown

    # ---- calls and your own picture ----------------------------------------------------------

    def call_started(self) -> None:
        self.in_call = True
        self.hide_preview()
        self.scene.set_seat_count(2)

    def call_ended(self) -> None:
        self.in_call = False
        for uid in [u for u in self.scene.participants if u != SELF_ID]:
            self.scene.remove_participant(uid, animate=True)
        self.sharers.clear()
        self.screen.hide()
        self.videos.clear()
        self.scene.set_seat_count(None)
        self.scene.set_self_frame(None)
        self.scene.set_self_avatar(None)

    def show_preview(self, label: str, avatar: bool) -> None:
        """Your own picture at the table (outside a call)."""
        if self.in_call:
            return
        if SELF_ID not in self.scene.participants:
            self.scene.add_participant(SELF_ID, label)
        self.scene.use_avatar(SELF_ID, avatar)

    def hide_preview(self) -> None:
        self.scene.remove_participant(SELF_ID)

    def set_avatar(self, on: bool) -> None:
        """Your own picture switches between the hologram and the avatar."""
        if SELF_ID in self.scene.participants:
            self.scene.use_avatar(SELF_ID, on)
        if not on and self.in_call:
            self.scene.set_self_avatar(None)

    def show_local(self, out: LocalOutput, camera_on: bool, avatar: bool) -> None:
        """What local media produced: in the self-view during a call, else at the table; while
        the face tracker finds no face, a notice says so (the avatar holds still)."""
        lost = avatar and camera_on and out.face in (TrackingState.SEARCHING, TrackingState.LOST)
        if lost != self.face_notice.visible:
            w, _h = self.scene.canvas.size
            self.face_notice.pos = (w / 2, 10)
            self.face_notice.visible = lost
            self.scene.canvas.update()
        if out.frame is not None and not avatar:
            self._local_frame(out.frame, camera_on)
        if out.avatar is not None:
            self._local_avatar(out.avatar, camera_on)

    def _local_frame(self, frame: DepthFrame, camera_on: bool) -> None:
        if self.in_call:
            self.scene.set_self_frame(frame if camera_on else None)
        elif SELF_ID in self.scene.participants:
            self.scene.set_frame(SELF_ID, frame)

    def _local_avatar(self, frame: AvatarFrame, camera_on: bool) -> None:
        if self.in_call:
            if camera_on:
                self.scene.set_self_avatar(frame)
        elif SELF_ID in self.scene.participants:
            self.scene.set_avatar_frame(SELF_ID, frame)

    def close(self) -> None:
        self._unsubscribe()
        self.screen.close()
