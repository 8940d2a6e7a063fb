"""Audio devices, spatial mixer, voice processing, tracks.

The UI uses :class:`AudioEngine` (see ``docs/audio.md``); the call engine takes its
``local_track`` and ``on_remote_audio``. Nothing here imports Qt or vispy.
"""

from holocall_desktop.audio.devices import AudioIO, DeviceInfo, list_devices, resolve_device
from holocall_desktop.audio.engine import AudioEngine, Level, ParticipantAudio
from holocall_desktop.audio.errors import AudioDeviceError, AudioError
from holocall_desktop.audio.jitter import JitterBuffer, JitterStats
from holocall_desktop.audio.processing import VoiceProcessor, VoiceSettings
from holocall_desktop.audio.spatial import SourceGeometry, SpatialMixer, SpatialParams
from holocall_desktop.audio.tracks import MicrophoneTrack, RemoteAudioReceiver

__all__ = [
    "AudioDeviceError",
    "AudioEngine",
    "AudioError",
    "AudioIO",
    "DeviceInfo",
    "JitterBuffer",
    "JitterStats",
    "Level",
    "MicrophoneTrack",
    "ParticipantAudio",
    "RemoteAudioReceiver",
    "SourceGeometry",
    "SpatialMixer",
    "SpatialParams",
    "VoiceProcessor",
    "VoiceSettings",
    "list_devices",
    "resolve_device",
]
