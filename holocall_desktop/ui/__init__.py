"""Qt windows, dialogs and widgets: the only package that imports PySide6."""
