"""MediaPipe face blendshapes and the avatar rig."""
