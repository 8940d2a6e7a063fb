"""Plain data shared by every stage: frames, camera calibration, room layout. numpy only."""

from holocall_desktop.model.frames import DepthFrame
from holocall_desktop.model.intrinsics import Extrinsics, Intrinsics
from holocall_desktop.model.mailbox import LatestMailbox

__all__ = ["DepthFrame", "Extrinsics", "Intrinsics", "LatestMailbox"]
