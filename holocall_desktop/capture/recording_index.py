"""Validate and index RealSense recordings (``.bag`` ROS1 v2.0, ``.db3`` rosbag2/SQLite) in Python.

librealsense can hang or abort on malformed input, so a recording is checked here *before* the
SDK sees it: the magic header, the file structure (a ROS bag's index and chunk records must lie
inside the file; an SQLite database must be as long as its header says and hold the rosbag2
tables), and the image messages. Reading the index also gives the honest frame count and the
recording time of every depth and colour frame without decoding any image.

Times are nanoseconds relative to the first message of the file, which is what the SDK's
``playback.get_position()`` reports.
"""

from __future__ import annotations

import re
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from holocall_desktop.capture.base import RecordingFormatError

BAG_MAGIC = b"#ROSBAG V2.0\n"
SQLITE_MAGIC = b"SQLite format 3\x00"
SUFFIXES = (".bag", ".db3")

_DEPTH_TOPIC = re.compile(r"^/device_\d+/sensor_\d+/Depth_\d+/image/data(/.*)?$")
_COLOR_TOPIC = re.compile(r"^/device_\d+/sensor_\d+/Color_\d+/image/data(/.*)?$")

_OP_MSG_DATA = 0x02
_OP_BAG_HEADER = 0x03
_OP_INDEX_DATA = 0x04
_OP_CHUNK = 0x05
_OP_CHUNK_INFO = 0x06
_OP_CONNECTION = 0x07


@dataclass(frozen=True)
class RecordingIndex:
    path: Path
    format: str  # "bag" or "db3"
    depth_times_ns: npt.NDArray[np.int64]  # sorted, relative to the file's first message
    color_times_ns: npt.NDArray[np.int64]

    @property
    def frame_count(self) -> int:
        return int(self.depth_times_ns.size)

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last depth frame."""
        if self.depth_times_ns.size == 0:
            return 0.0
        return float(self.depth_times_ns[-1] - self.depth_times_ns[0]) / 1e9


def _fail(path: Path, why: str) -> RecordingFormatError:
    return RecordingFormatError(f"{path.name}: {why}")


def index_recording(path: str | Path) -> RecordingIndex:
    """Check ``path`` is a readable, complete RealSense recording and index its frames.

    Raises :class:`RecordingFormatError` with a one-line reason otherwise.
    """
    p = Path(path)
    if p.suffix.lower() not in SUFFIXES:
        raise _fail(
            p, f"not a RealSense recording (expected a .bag or .db3 file, got '{p.suffix}')"
        )
    if not p.exists():
        raise RecordingFormatError(f"recording not found: {p}")
    if not p.is_file():
        raise _fail(p, "is not a file")
    size = p.stat().st_size
    if size == 0:
        raise _fail(p, "the file is empty (0 bytes)")
    try:
        with p.open("rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise _fail(p, f"cannot be read ({exc.strerror or exc})") from exc
    if head.startswith(BAG_MAGIC):
        if p.suffix.lower() != ".bag":
            raise _fail(p, "is a ROS1 .bag recording with a .db3 name; rename it to .bag")
        depth, color = _index_bag(p, size)
        fmt = "bag"
    elif head.startswith(SQLITE_MAGIC):
        if p.suffix.lower() != ".db3":
            raise _fail(p, "is an SQLite (.db3) recording with a .bag name; rename it to .db3")
        depth, color = _index_db3(p, size, head)
        fmt = "db3"
    else:
        kind = "ROS1 bag" if p.suffix.lower() == ".bag" else "rosbag2 SQLite"
        raise _fail(p, f"not a RealSense recording (no {kind} header)")
    if depth.size == 0:
        raise _fail(p, "the recording holds no depth frames")
    return RecordingIndex(p, fmt, np.sort(depth), np.sort(color))


# -- ROS1 bag ---------------------------------------------------------------------------------


def _fields(header: bytes, p: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(header):
        if pos + 4 > len(header):
            raise _fail(p, "corrupt record header (truncated or not a ROS bag)")
        (n,) = struct.unpack_from("<i", header, pos)
        pos += 4
        if n < 0 or pos + n > len(header):
            raise _fail(p, "corrupt record header (truncated or not a ROS bag)")
        field = header[pos : pos + n]
        pos += n
        name, sep, value = field.partition(b"=")
        if not sep:
            raise _fail(p, "corrupt record header field")
        out[name.decode("ascii", "replace")] = value
    return out


class _BagReader:
    def __init__(self, fh: BinaryIO, size: int, p: Path) -> None:
        self.fh = fh
        self.size = size
        self.p = p

    def record(self, pos: int, read_data: bool = True) -> tuple[dict[str, bytes], bytes, int]:
        """The record at ``pos``: header fields, data (if asked) and the position after it."""
        if pos + 4 > self.size:
            raise _fail(self.p, "the file is truncated (a record lies past its end)")
        self.fh.seek(pos)
        (hlen,) = struct.unpack("<i", self.fh.read(4))
        if hlen <= 0 or pos + 4 + hlen + 4 > self.size:
            raise _fail(self.p, "the file is truncated or corrupt (bad record length)")
        header = self.fh.read(hlen)
        (dlen,) = struct.unpack("<i", self.fh.read(4))
        end = pos + 8 + hlen + dlen
        if dlen < 0 or end > self.size:
            raise _fail(self.p, "the file is truncated (a record lies past its end)")
        data = self.fh.read(dlen) if read_data else b""
        return _fields(header, self.p), data, end


def _op(fields: dict[str, bytes]) -> int:
    op = fields.get("op", b"")
    return op[0] if len(op) == 1 else -1


def _index_bag(p: Path, size: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    with p.open("rb") as fh:
        r = _BagReader(fh, size, p)
        fields, _, _ = r.record(len(BAG_MAGIC), read_data=False)
        if _op(fields) != _OP_BAG_HEADER or "index_pos" not in fields:
            raise _fail(p, "corrupt ROS bag (no bag header record)")
        (index_pos,) = struct.unpack("<Q", fields["index_pos"])
        if index_pos == 0:
            raise _fail(p, "the recording was not closed properly (the ROS bag has no index)")
        if index_pos >= size:
            raise _fail(p, "the file is truncated (its index lies past the end of the file)")
        topics: dict[int, str] = {}
        chunks: list[int] = []
        pos = index_pos
        while pos < size:
            fields, data, pos = r.record(pos)
            op = _op(fields)
            if op == _OP_CONNECTION:
                (conn,) = struct.unpack("<i", fields["conn"])
                topics[conn] = fields.get("topic", b"").decode("utf-8", "replace")
            elif op == _OP_CHUNK_INFO:
                (chunk_pos,) = struct.unpack("<Q", fields["chunk_pos"])
                chunks.append(chunk_pos)
            else:
                raise _fail(p, f"corrupt ROS bag index (unexpected record op {op})")
        depth: list[int] = []
        color: list[int] = []
        first = None
        for chunk_pos in chunks:
            if not len(BAG_MAGIC) < chunk_pos < index_pos:
                raise _fail(p, "corrupt ROS bag index (chunk outside the file)")
            fields, _, pos = r.record(chunk_pos, read_data=False)
            if _op(fields) != _OP_CHUNK:
                raise _fail(p, "corrupt ROS bag (index points at no chunk)")
            while pos < index_pos:
                fields, data, nxt = r.record(pos)
                if _op(fields) != _OP_INDEX_DATA:
                    break
                pos = nxt
                (conn,) = struct.unpack("<i", fields["conn"])
                (count,) = struct.unpack("<i", fields["count"])
                if count < 0 or len(data) != 12 * count:
                    raise _fail(p, "corrupt ROS bag (bad message index)")
                entries = np.frombuffer(data, dtype="<u4").reshape(count, 3).astype(np.int64)
                times = entries[:, 0] * 1_000_000_000 + entries[:, 1]
                if times.size:
                    first = int(times.min()) if first is None else min(first, int(times.min()))
                topic = topics.get(conn, "")
                if _DEPTH_TOPIC.match(topic):
                    depth.extend(times.tolist())
                elif _COLOR_TOPIC.match(topic):
                    color.extend(times.tolist())
        start = first or 0
        return (
            np.asarray(depth, dtype=np.int64) - start,
            np.asarray(color, dtype=np.int64) - start,
        )


# -- rosbag2 / SQLite -------------------------------------------------------------------------


def _index_db3(
    p: Path, size: int, head: bytes
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    (page_size,) = struct.unpack(">H", head[16:18])
    page_size = 65536 if page_size == 1 else page_size
    (change_counter,) = struct.unpack(">I", head[24:28])
    (page_count,) = struct.unpack(">I", head[28:32])
    (valid_for,) = struct.unpack(">I", head[92:96])
    if page_size < 512 or page_size & (page_size - 1):
        raise _fail(p, "corrupt SQLite header")
    if size % page_size:
        raise _fail(p, "the file is truncated (not a whole number of database pages)")
    if valid_for == change_counter and page_count * page_size > size:
        raise _fail(p, f"the file is truncated ({size} of {page_count * page_size} bytes present)")
    uri = f"{p.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise _fail(p, f"cannot be opened as a database ({exc})") from exc
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"topics", "messages"} <= tables:
            raise _fail(p, "not a rosbag2 recording (no topics/messages tables)")
        rows = con.execute(
            "SELECT t.name, m.timestamp FROM messages m JOIN topics t ON m.topic_id = t.id"
        ).fetchall()
        first_row = con.execute("SELECT MIN(timestamp) FROM messages").fetchone()
    except sqlite3.DatabaseError as exc:
        raise _fail(p, f"corrupt database ({exc})") from exc
    finally:
        con.close()
    start = int(first_row[0] or 0)
    depth = [int(ts) for name, ts in rows if _DEPTH_TOPIC.match(str(name))]
    color = [int(ts) for name, ts in rows if _COLOR_TOPIC.match(str(name))]
    return np.asarray(depth, dtype=np.int64) - start, np.asarray(color, dtype=np.int64) - start
