"""The default target quality of a restoration, shared by the window, `iqpfr` and the pipeline.

A module of its own, importing nothing, so that `iqpfr --help` shows it without loading the pipeline (torch).
"""

DEFAULT_QUALITY = 0.9
