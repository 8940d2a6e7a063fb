"""Avatar frames: head pose, the 52 ARKit blendshapes and optional hands. numpy only.

Coordinates follow the room convention: metres, right-handed, y up. A tracker reports the head in
its camera's frame (x right, y up, z towards the viewer, so a face in front of the camera has a
negative z); a renderer applies the rotation in the avatar's seat frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

#: The 52 ARKit blendshape names, in the order every AvatarFrame (and the wire format) uses.
#: It is MediaPipe's FaceLandmarker order with its extra ``_neutral`` category dropped (MediaPipe
#: reports 52 categories: ``_neutral`` + 51 ARKit shapes) and ``tongueOut``, which MediaPipe
#: does not estimate, appended last. Together these are exactly ARKit's 52 ``BlendShapeLocation``s.
ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
    "tongueOut",
)
NUM_BLENDSHAPES = len(ARKIT_BLENDSHAPES)  # 52
BLENDSHAPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_BLENDSHAPES)}
NUM_FINGERS = 5


def _identity_quaternion() -> npt.NDArray[np.float32]:
    return np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32)


def _zeros3() -> npt.NDArray[np.float32]:
    return np.zeros(3, dtype=np.float32)


def _vector(value: object, n: int, what: str) -> npt.NDArray[np.float32]:
    arr = np.asarray(value, dtype=np.float32).reshape(-1).copy()
    if arr.shape != (n,):
        raise ValueError(f"{what} needs {n} values, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} must be finite, got {arr.tolist()}")
    arr.setflags(write=False)
    return arr


def _unit_quaternion(value: object, what: str) -> npt.NDArray[np.float32]:
    q = _vector(value, 4, what).astype(np.float64)
    norm = float(np.linalg.norm(q))
    if norm < 1e-6:
        raise ValueError(f"{what} must be a non-zero quaternion (x, y, z, w)")
    q = q / norm
    if q[3] < 0:  # one canonical sign: w >= 0
        q = -q
    out = q.astype(np.float32)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class HandData:
    """One tracked hand, as 20 bytes on the wire (see ``docs/protocol.md``).

    - ``wrist_position``: metres, same frame as the head position; quantised to millimetres
      within ±32.767 m.
    - ``wrist_rotation``: unit quaternion (x, y, z, w).
    - ``finger_curl``: thumb, index, middle, ring, little; 0 = straight, 1 = fully curled.
    - ``confidence``: tracking confidence in [0, 1].
    """

    wrist_position: npt.NDArray[np.float32] = field(default_factory=_zeros3)
    wrist_rotation: npt.NDArray[np.float32] = field(default_factory=_identity_quaternion)
    finger_curl: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(NUM_FINGERS, dtype=np.float32)
    )
    confidence: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "wrist_position", _vector(self.wrist_position, 3, "wrist_position")
        )
        object.__setattr__(
            self, "wrist_rotation", _unit_quaternion(self.wrist_rotation, "wrist_rotation")
        )
        curl = _vector(self.finger_curl, NUM_FINGERS, "finger_curl")
        if np.any(curl < 0) or np.any(curl > 1):
            raise ValueError(f"finger_curl values must lie in [0, 1], got {curl.tolist()}")
        object.__setattr__(self, "finger_curl", curl)
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must lie in [0, 1], got {self.confidence}")


@dataclass(frozen=True)
class AvatarFrame:
    """One face-tracking sample: what an avatar needs to mirror its user.

    - ``timestamp``: capture time in seconds (sender's clock, monotonic within a stream, ≥ 0).
    - ``head_position``: metres, 3 floats (x, y, z) in the tracking camera's frame.
    - ``head_rotation``: unit quaternion (x, y, z, w), normalised on construction (w ≥ 0).
    - ``blendshapes``: 52 floats in [0, 1], in ``ARKIT_BLENDSHAPES`` order.
    - ``left_hand`` / ``right_hand``: optional ``HandData``.

    Arrays are stored read-only, so a frame can be shared between threads.
    """

    timestamp: float
    head_position: npt.NDArray[np.float32] = field(default_factory=_zeros3)
    head_rotation: npt.NDArray[np.float32] = field(default_factory=_identity_quaternion)
    blendshapes: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(NUM_BLENDSHAPES, dtype=np.float32)
    )
    left_hand: HandData | None = None
    right_hand: HandData | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.timestamp) and self.timestamp >= 0):
            raise ValueError(
                f"timestamp must be a finite number of seconds ≥ 0, got {self.timestamp}"
            )
        object.__setattr__(self, "head_position", _vector(self.head_position, 3, "head_position"))
        object.__setattr__(
            self, "head_rotation", _unit_quaternion(self.head_rotation, "head_rotation")
        )
        shapes = _vector(self.blendshapes, NUM_BLENDSHAPES, "blendshapes")
        if np.any(shapes < 0) or np.any(shapes > 1):
            raise ValueError("blendshape scores must lie in [0, 1]")
        object.__setattr__(self, "blendshapes", shapes)

    def blendshape(self, name: str) -> float:
        """The score of one ARKit blendshape by name (``KeyError`` for an unknown name)."""
        return float(self.blendshapes[BLENDSHAPE_INDEX[name]])

    def blendshape_dict(self) -> dict[str, float]:
        return {name: float(v) for name, v in zip(ARKIT_BLENDSHAPES, self.blendshapes, strict=True)}

    def rotation_matrix(self) -> npt.NDArray[np.float64]:
        """The head rotation as a 3x3 matrix."""
        return quaternion_to_matrix(self.head_rotation)


def quaternion_to_matrix(q: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """3x3 rotation matrix of a unit quaternion (x, y, z, w)."""
    x, y, z, w = (float(v) for v in np.asarray(q, dtype=np.float64).reshape(4))
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ],
        dtype=np.float64,
    )


def matrix_to_quaternion(m: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Unit quaternion (x, y, z, w), w ≥ 0, of a 3x3 rotation (nearest one if not orthonormal)."""
    r = np.asarray(m, dtype=np.float64).reshape(3, 3)
    u, _, vt = np.linalg.svd(r)
    r = u @ vt
    if np.linalg.det(r) < 0:  # a reflection: flip the weakest axis
        u[:, -1] = -u[:, -1]
        r = u @ vt
    # Shepperd's method: pick the largest diagonal term for stability.
    tr = np.trace(r)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = np.array(
            [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s]
        )
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        s = 2.0 * np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        q = np.array(
            [0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s, (r[2, 1] - r[1, 2]) / s]
        )
    elif r[1, 1] > r[2, 2]:
        s = 2.0 * np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
        q = np.array(
            [(r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s, (r[0, 2] - r[2, 0]) / s]
        )
    else:
        s = 2.0 * np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
        q = np.array(
            [(r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s, (r[1, 0] - r[0, 1]) / s]
        )
    q = q / np.linalg.norm(q)
    return -q if q[3] < 0 else q
