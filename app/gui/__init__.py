"""Qt desktop front-end (the only part of the app that imports Qt)."""
