"""Face restorers behind one interface (no Qt): IQPFR and public models loaded through spandrel.

`RestorerDescriptor` says what a restorer is (face size, tensor range, quality score, what its slider
means); `FaceNetwork` is what the pipeline calls; `load_network` turns `--model NAME|FILE` into one.
The names are imported from their modules on first use, so that `iqpfr models list` (the catalogue and the
store) does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.lazy_exports import lazy_exports

if TYPE_CHECKING:  # the names as type checkers see them (exported lazily below)
    from app.restorers.choose import load_network  # noqa: F401
    from app.restorers.descriptor import DEFAULT_STRENGTH, RestorerDescriptor, Slider  # noqa: F401
    from app.restorers.iqpfr_network import IQPFRNetwork  # noqa: F401
    from app.restorers.loading import load_network_file  # noqa: F401
    from app.restorers.network import FaceNetwork, NetworkOutput  # noqa: F401

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "app.restorers.choose": ("load_network",),
        "app.restorers.loading": ("load_network_file",),
        "app.restorers.descriptor": ("DEFAULT_STRENGTH", "RestorerDescriptor", "Slider"),
        "app.restorers.iqpfr_network": ("IQPFRNetwork",),
        "app.restorers.network": ("FaceNetwork", "NetworkOutput"),
    },
)
