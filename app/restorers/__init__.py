"""Face restorers behind one interface (no Qt): IQPFR and public models loaded through spandrel.

`RestorerDescriptor` says what a restorer is (face size, tensor range, quality score, what its slider
means); `FaceNetwork` is what the pipeline calls; `load_network` turns `--model NAME|FILE` into one.
"""

from app.restorers.choose import load_network
from app.restorers.descriptor import DEFAULT_STRENGTH, RestorerDescriptor, Slider
from app.restorers.iqpfr_network import IQPFRNetwork
from app.restorers.loading import load_network_file
from app.restorers.network import FaceNetwork, NetworkOutput

__all__ = [
    "DEFAULT_STRENGTH",
    "FaceNetwork",
    "IQPFRNetwork",
    "NetworkOutput",
    "RestorerDescriptor",
    "Slider",
    "load_network",
    "load_network_file",
]
