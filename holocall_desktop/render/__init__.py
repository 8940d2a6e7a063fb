"""vispy visuals whose GLSL lives in shaders/: holograms, avatars, the room."""
