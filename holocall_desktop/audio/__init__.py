"""Audio devices, spatial mixer, voice processing, tracks."""
