"""Is there an OpenGL HoloCall can draw with? Asked before any window opens, so that a machine
without one gets a sentence instead of vispy's "Shader compilation error"."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext

NEEDED = (2, 1)  # the shaders are GLSL 1.20 (OpenGL 2.1)
_GL_VENDOR, _GL_RENDERER, _GL_VERSION, _GLSL_VERSION = 0x1F00, 0x1F01, 0x1F02, 0x8B8C


@dataclass(frozen=True)
class OpenGLInfo:
    platform: str
    version: tuple[int, int]
    renderer: str
    glsl: str

    def describe(self) -> str:
        major, minor = self.version
        return (
            f"{self.renderer}, OpenGL {major}.{minor}, GLSL {self.glsl} "
            f"(Qt platform {self.platform})"
        )


class OpenGLUnavailable(RuntimeError):
    """What the user reads, on one line."""


def probe_opengl() -> OpenGLInfo:
    """Create a context on an offscreen surface and read what it is (needs a Qt GUI app)."""
    platform = QGuiApplication.platformName()
    advice = (
        "HoloCall draws its 3D room with OpenGL 2.1 or newer: start it in a desktop session with "
        "a graphics driver, or headless under Xvfb with Mesa (xvfb-run holocall ...)"
    )
    context = QOpenGLContext()
    if not context.create():
        raise OpenGLUnavailable(f"OpenGL is not available (Qt platform '{platform}'). {advice}")
    surface = QOffscreenSurface()
    surface.setFormat(context.format())
    surface.create()
    if not context.makeCurrent(surface):
        raise OpenGLUnavailable(
            f"no OpenGL context could be made current (Qt platform '{platform}'). {advice}"
        )
    try:
        fmt = context.format()
        gl = context.functions()
        version = (fmt.majorVersion(), fmt.minorVersion())
        info = OpenGLInfo(
            platform,
            version,
            str(gl.glGetString(_GL_RENDERER) or "unknown renderer"),
            str(gl.glGetString(_GLSL_VERSION) or "?"),
        )
    finally:
        context.doneCurrent()
        surface.destroy()
    if version < NEEDED:
        raise OpenGLUnavailable(
            f"OpenGL {version[0]}.{version[1]} ({info.renderer}) is too old. {advice}"
        )
    return info
