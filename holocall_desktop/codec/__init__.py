"""Volumetric codecs (data-channel and video-track), behind one interface with a registry."""
