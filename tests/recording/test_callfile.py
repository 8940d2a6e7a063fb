"""The call file (MCAP): what is written reads back in order; a file cut short still reads to
its last whole chunk; a foreign or broken file says so in one line; a full disk is reported."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from mcap.writer import Writer

from holocall_desktop.recording.callfile import (
    CallFileError,
    CallWriter,
    read_call,
    split_voice,
    voice_packet,
)


def _write(path: Path, seconds: float = 0.0) -> list[bytes]:
    writer = CallWriter(path, {"room": "r1", "recorder": "host"})
    payloads = [os.urandom(2000 + i) for i in range(50)]  # as incompressible as frames
    writer.put_json("room", {"event": "joined", "userId": "a", "name": "Ann", "seat": 1})
    for i, data in enumerate(payloads):
        writer.put("hologram", "a", data, metadata={"codec": "volumetric-dc"})
        writer.put("voice", "a", voice_packet(i, i * 960, b"opus%d" % i))
        if seconds:
            time.sleep(seconds / len(payloads))
    writer.put_json("chat", {"userId": "a", "name": "Ann", "text": "<b>hi</b>", "seq": 1})
    writer.close()
    assert writer.error is None and writer.dropped == 0
    return payloads


def test_what_is_written_reads_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "call.holocall"
    payloads = _write(path)
    call = read_call(path)
    assert call.metadata == {"room": "r1", "recorder": "host"} and not call.truncated
    kinds = [r.kind for r in call.records]
    assert kinds[0] == "room" and kinds[-1] == "chat"
    holograms = [r for r in call.records if r.kind == "hologram"]
    assert [r.data for r in holograms] == payloads
    assert {r.user_id for r in holograms} == {"a"}
    assert holograms[0].metadata == {"codec": "volumetric-dc"}
    voice = [split_voice(r.data) for r in call.records if r.kind == "voice"]
    assert voice[3] == (3, 2880, b"opus3")
    assert call.records[-1].json()["text"] == "<b>hi</b>"
    times = [r.time for r in call.records]
    assert times == sorted(times) and abs(times[0] - time.time()) < 60


def test_a_file_cut_short_reads_up_to_its_last_whole_chunk(tmp_path: Path) -> None:
    path = tmp_path / "call.holocall"
    _write(path, seconds=2.5)  # flushed as chunks each second
    whole = path.read_bytes()
    complete = read_call(path).records
    cut = tmp_path / "cut.holocall"
    for size, some in ((len(whole) // 2, True), (len(whole) - 10, False)):
        cut.write_bytes(whole[:size])
        call = read_call(cut)
        assert call.truncated
        if some:  # cut in the middle: the chunks before the cut
            assert 0 < len(call.records) < len(complete)
        else:  # only the summary is broken: every message
            assert len(call.records) == len(complete)
        assert [r.data for r in call.records] == [r.data for r in complete[: len(call.records)]]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not an MCAP file"),
        (b"PK\x03\x04 a zip file", "not an MCAP file"),
        (b"\x89MCAP0\r\n" + b"\x00" * 40, "damaged before its first message"),
    ],
)
def test_a_foreign_or_broken_file_explains_itself(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "x.holocall"
    path.write_bytes(content)
    with pytest.raises(CallFileError, match=reason):
        read_call(path)


def test_an_mcap_file_of_another_profile_is_not_a_call(tmp_path: Path) -> None:
    path = tmp_path / "robot.mcap"
    with open(path, "wb") as f:
        writer = Writer(f)
        writer.start(profile="ros2", library="test")
        writer.finish()
    with pytest.raises(CallFileError, match=r"not a HoloCall call \(profile 'ros2'"):
        read_call(path)
    with pytest.raises(CallFileError, match="cannot open"):
        read_call(tmp_path / "missing.holocall")


def test_a_full_disk_stops_the_recording_and_says_so() -> None:
    writer = CallWriter(Path("/dev/full"), {})
    for _ in range(200):
        writer.put("hologram", "a", b"x" * 50_000)
    time.sleep(FLUSH_WAIT)
    writer.close()
    assert writer.error is not None and "cannot write /dev/full" in writer.error


FLUSH_WAIT = 1.5
