"""Audio: mouth-to-ear latency through two aiortc peers and real PortAudio streams; mixer cost."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

TARGET_MS = 80.0
SEED_MS = 100.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--seconds", type=float, default=8.0, help="length of each latency run (default 8)"
    )
    p.add_argument(
        "--participants",
        default="1,2,4,9",
        help="mixer cost for these numbers of voices (default 1,2,4,9)",
    )
    p.add_argument("--blocks", type=int, default=1000, help="mixer blocks timed (default 1000)")
    p.add_argument(
        "--no-processing",
        action="store_true",
        help="latency runs without echo cancellation / noise suppression / gain control",
    )
    p.add_argument(
        "--playout-blocks",
        type=int,
        default=2,
        help="10 ms blocks queued for the receiver's speaker (AudioEngine default 2)",
    )
    p.add_argument(
        "--repeat", type=int, default=3, help="latency runs per configuration (default 3)"
    )
    p.add_argument(
        "--skip-latency", action="store_true", help="only the mixer cost (no sound server)"
    )


@dataclass
class _Latency:
    label: str
    lags_ms: list[float]
    expected: int
    detail: str = ""


def _row(runs: list[_Latency], calibrations: list[float]) -> str:
    """One table row for a configuration measured ``len(runs)`` times."""
    label = runs[0].label
    values: list[float] = []
    medians: list[str] = []
    for r, cal in zip(runs, calibrations, strict=True):
        v = [x - cal for x in r.lags_ms]
        values += v
        medians.append(f"{statistics.median(v):.0f}" if v else "–")
    found = sum(len(r.lags_ms) for r in runs)
    expected = sum(r.expected for r in runs)
    notes = "; ".join(r.detail for r in runs if r.detail)
    if not values:
        return f"| {label} | – | – | – | – | 0/{expected} | {notes} |"
    v = sorted(values)
    p95 = v[min(len(v) - 1, round(0.95 * (len(v) - 1)))]
    return (
        f"| {label} | **{statistics.median(v):.1f}** | {p95:.1f} | {v[0]:.1f} | "
        f"{', '.join(medians)} | {found}/{expected} | {notes} |"
    )


def _mixer_cost(counts: list[int], blocks: int) -> list[tuple[int, float, float]]:
    import numpy as np

    from holocall_desktop.audio.spatial import SpatialMixer
    from holocall_desktop.audio.synth import voice
    from holocall_desktop.model.room import RoomLayout

    layout = RoomLayout()
    x = voice(2.0, seed=1, pauses=False)
    out: list[tuple[int, float, float]] = []
    for n in counts:
        mixer = SpatialMixer()
        mixer.set_listener(layout.viewer_eye(), layout.seat(0, 2).facing)
        ids = [f"p{i}" for i in range(n)]
        for i, sid in enumerate(ids):
            seat = layout.seat(i + 1, max(n + 1, 2))
            mixer.set_source_position(sid, seat.position + np.array([0.0, 1.2, 0.0]))
        res = np.empty((480, 2), dtype=np.float32)
        times = []
        for b in range(blocks + 20):
            k = (b * 480) % (len(x) - 480)
            inputs = {sid: x[k : k + 480] for sid in ids}
            t0 = time.perf_counter()
            mixer.mix(inputs, res)
            dt = time.perf_counter() - t0
            if b >= 20:
                times.append(dt)
            if b % 10 == 0:  # the voices move a little, as tracked heads do
                for i, sid in enumerate(ids):
                    seat = layout.seat(i + 1, max(n + 1, 2))
                    wobble = np.array([0.05 * np.sin(b / 30 + i), 1.2, 0.0])
                    mixer.set_source_position(sid, seat.position + wobble)
        med = statistics.median(times)
        out.append((n, med * 1e6 / n, med / 0.010 * 100.0))
    return out


def _chirp_train(seconds: float, period: float = 1.0) -> tuple[Any, list[int]]:
    import numpy as np

    from holocall_desktop.audio.synth import chirp

    fs = 48000
    signal = np.zeros(int(seconds * fs), dtype=np.float32)
    c = chirp(0.05, fs, 300.0, 4000.0, 0.5)
    starts = []
    t = 0.5
    while t + period <= seconds:
        i = int(t * fs)
        signal[i : i + len(c)] = c
        starts.append(i)
        t += period
    return signal, starts


class _Probe:
    """A duplex stream: plays the chirp train ("mouth") and records the "ear" on one clock."""

    def __init__(self, signal: Any) -> None:
        import numpy as np

        self.signal = signal
        self.recorded = np.zeros(len(signal) + 48000, dtype=np.float32)
        self.pos = 0
        self.callbacks = 0
        self.armed = False
        self.stream: Any = None

    def _callback(self, indata: Any, outdata: Any, frames: int, t: Any, status: Any) -> None:
        self.callbacks += 1
        if not self.armed:  # warming up: the sound server's start-up pause is not measured
            outdata[:] = 0.0
            return
        p = self.pos
        n = max(0, min(frames, len(self.signal) - p))
        outdata[:n, 0] = self.signal[p : p + n]
        outdata[n:, 0] = 0.0
        m = max(0, min(frames, len(self.recorded) - p))
        self.recorded[p : p + m] = indata[:m, 0]
        self.pos = p + frames

    def open(self) -> None:
        import sounddevice as sd

        self.stream = sd.Stream(
            samplerate=48000,
            blocksize=480,
            channels=(1, 1),
            dtype="float32",
            latency="low",
            callback=self._callback,
        )

    async def run(self) -> None:
        """Start, wait until callbacks come at their real-time pace, then play and record."""
        self.pos = 0
        self.stream.start()
        counts = []
        for _ in range(100):
            before = self.callbacks
            await asyncio.sleep(0.1)
            counts.append(self.callbacks - before)
            if counts[-1] >= 5:
                break
        else:
            raise RuntimeError(
                f"the probe's audio stream did not start ({self.callbacks} callbacks in 10 s, "
                f"active={self.stream.active})"
            )
        self.armed = True
        deadline = time.monotonic() + len(self.signal) / 48000 + 5.0
        while self.pos < len(self.signal):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the probe's audio stream stopped ({self.pos / 48000:.1f} s of "
                    f"{len(self.signal) / 48000:.1f} s played)"
                )
            await asyncio.sleep(0.05)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


def _lags(recorded: Any, signal: Any, starts: list[int], max_ms: float = 600.0) -> list[float]:
    import numpy as np

    from holocall_desktop.audio.synth import chirp

    c = chirp(0.05, 48000, 300.0, 4000.0, 0.5).astype(np.float64)
    lags = []
    span = int(max_ms / 1000 * 48000)
    for s in starts:
        seg = recorded[s : s + span + len(c)].astype(np.float64)
        if len(seg) < len(c) or np.max(np.abs(seg)) < 1e-3:
            continue
        corr = np.correlate(seg, c, mode="valid")
        k = int(np.argmax(np.abs(corr)))
        energy = np.sqrt(np.sum(seg[k : k + len(c)] ** 2) * np.sum(c**2))
        if energy > 0 and abs(corr[k]) / energy > 0.5:  # the chirp, not noise
            lags.append(k / 48.0)
    return lags


async def _latency_run(
    server: Any, seconds: float, low_latency: bool, processing: bool, playout_blocks: int
) -> _Latency:
    from aiortc import MediaStreamTrack, RTCPeerConnection

    from holocall_desktop.audio import AudioEngine, VoiceSettings
    from holocall_desktop.transport.tracks import low_latency_receiver

    voice = VoiceSettings() if processing else VoiceSettings(False, False, False, False)
    signal, starts = _chirp_train(seconds)
    probe = _Probe(signal)
    with server.route(sink="mouth", source="ear.monitor"):
        probe.open()
    with server.route(source="mouth.monitor"):
        sender = AudioEngine(playback=False, voice=voice)
        sender.start()
    with server.route(sink="ear"):
        receiver = AudioEngine(capture=False, voice=voice, playout_blocks=playout_blocks)
        receiver.start()
    receiver.set_seat("alice", 1, 2)  # across the table: both ears alike
    pc1, pc2 = RTCPeerConnection(), RTCPeerConnection()
    got: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    patched = False

    @pc2.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        nonlocal patched
        if track.kind == "audio" and not got.done():
            if low_latency:
                for tr in pc2.getTransceivers():
                    if tr.kind == "audio":
                        patched = low_latency_receiver(tr.receiver) or patched
            got.set_result(track)

    try:
        pc1.addTrack(sender.local_track)
        await pc1.setLocalDescription(await pc1.createOffer())
        await pc2.setRemoteDescription(pc1.localDescription)
        await pc2.setLocalDescription(await pc2.createAnswer())
        await pc1.setRemoteDescription(pc2.localDescription)
        remote = await asyncio.wait_for(got, 10)
        receiver.on_remote_audio("alice", remote)
        for engine in (sender, receiver):
            if not engine.wait_running(8.0):
                raise RuntimeError(f"audio devices did not start: {engine.error}")
        await asyncio.sleep(1.0)  # let the connection and the buffers settle
        await probe.run()
        await asyncio.sleep(0.3)
        stats = receiver.participant_audio()
        jit = stats[0].jitter if stats else None
        dev = receiver.device_stats()
    finally:
        probe.close()
        for pc in (pc1, pc2):
            # aiortc's close() can wait forever on a transport that never connected
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pc.close(), 5.0)
        sender.close()
        receiver.close()
    label = "low-latency receiver" if low_latency else "aiortc's default receiver (prefetch 4)"
    label += f", playout {playout_blocks} block{'s' if playout_blocks > 1 else ''}"
    if low_latency and not patched:
        label += " (patch not applied: aiortc differs)"
    detail = ""
    if jit is not None:
        glitches = jit.underruns + dev.output_underflows
        detail = f"{glitches}/{jit.stretched_ms:.0f}"
    return _Latency(label, _lags(probe.recorded, signal, starts), len(starts), detail)


async def _calibrate(server: Any, seconds: float) -> list[float]:
    signal, starts = _chirp_train(min(seconds, 4.0))
    probe = _Probe(signal)
    with server.route(sink="mouth", source="mouth.monitor"):
        probe.open()
    try:
        await probe.run()
    finally:
        probe.close()
    return _lags(probe.recorded, signal, starts)


def run(args: argparse.Namespace) -> int:
    try:
        counts = [int(c) for c in str(args.participants).split(",") if c.strip()]
    except ValueError:
        print(f"error: --participants wants numbers like 1,2,4: {args.participants!r}")
        return 2
    if not counts or min(counts) < 1 or args.blocks < 10 or args.seconds < 3:
        print("error: need participants >= 1, --blocks >= 10 and --seconds >= 3")
        return 2
    if args.repeat < 1:
        print("error: --repeat must be at least 1")
        return 2
    if args.playout_blocks < 1:
        print("error: --playout-blocks must be at least 1")
        return 2
    print(f"`{' '.join(['holocall', 'bench', 'audio', *sys.argv[3:]])}`")
    cpus = os.cpu_count()
    print(f"machine: {platform.machine()}, {cpus} CPUs, Python {platform.python_version()}")
    print()
    print("Spatial mixer, median per 10 ms block:")
    print()
    print("| voices | µs per voice per block | % of one core in real time |")
    print("|---:|---:|---:|")
    for n, us, pct in _mixer_cost(counts, args.blocks):
        print(f"| {n} | {us:.0f} | {pct:.2f} |")
    print()
    if args.skip_latency:
        return 0

    from holocall_desktop.audio.errors import AudioError
    from holocall_desktop.audio.virtual import VirtualSoundServer

    try:
        server = VirtualSoundServer(("mouth", "ear"))
        server.start()
    except AudioError as e:
        print(f"error: no virtual sound device for the latency runs: {e}")
        return 1
    try:
        configs = list(
            dict.fromkeys([(False, args.playout_blocks), (True, args.playout_blocks), (True, 1)])
        )

        async def all_runs() -> tuple[list[float], list[list[_Latency]]]:
            cals: list[float] = []
            results: list[list[_Latency]] = [[] for _ in configs]
            for _ in range(args.repeat):  # interleaved, so that load changes hit all alike
                cal = await _calibrate(server, args.seconds)
                if not cal:
                    raise RuntimeError("the calibration chirps did not come back")
                cals.append(statistics.median(cal))
                for i, (low, blocks) in enumerate(configs):
                    one = _latency_run(server, args.seconds, low, not args.no_processing, blocks)
                    try:
                        results[i].append(await asyncio.wait_for(one, args.seconds + 60.0))
                    except TimeoutError:
                        label = f"{'low-latency' if low else 'default'} receiver, {blocks} block(s)"
                        results[i].append(_Latency(label, [], 0, "run timed out"))
            return cals, results

        cal, runs = asyncio.run(all_runs())
    except (AudioError, RuntimeError) as e:
        print(f"error: {e}")
        return 1
    finally:
        server.stop()
    print(
        "Mouth-to-ear: chirp played into sink `mouth` → sender's microphone (PortAudio, "
        "`mouth.monitor`) → voice processing → MicrophoneTrack → Opus → RTP/DTLS on loopback → "
        "aiortc receiver → JitterBuffer → SpatialMixer → receiver's speaker (PortAudio, sink "
        "`ear`) → recorded from `ear.monitor`; minus the probe's own device round trip "
        f"(calibrated before each round: {', '.join(f'{c:.1f}' for c in cal)} ms). "
        f"{args.repeat} rounds of {args.seconds:g} s, one chirp a second."
    )
    print()
    print(
        "| path | median ms | p95 ms | min ms | median per run | chirps found "
        "| glitches / ms sped up, per run |"
    )
    print("|---|---:|---:|---:|---|---:|---|")
    for r in runs:
        print(_row(r, cal))
    print()
    print(f"Target ≤ {TARGET_MS:.0f} ms (seed < {SEED_MS:.0f} ms).")
    return 0
