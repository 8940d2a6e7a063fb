"""Launcher for packaged builds (PyInstaller): the same entry point as the `holocall` command.

Double-clicking the installed app starts the desktop window (`holocall` with no arguments).
"""

from __future__ import annotations

import sys

from holocall_desktop.cli import main

if __name__ == "__main__":
    sys.exit(main())
