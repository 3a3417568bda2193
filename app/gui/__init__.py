"""The desktop window (the only part of the app that imports Qt)."""

from app.gui.pyside_workaround import keep_none_alive

keep_none_alive()  # before any Qt call: see app.gui.pyside_workaround
