"""PyInstaller entry point: the desktop app, or `--self-test` (app/gui/self_test.py).

The bundle runs on the CPU: it leaves out what only a GPU run loads (cuDNN's kernels …;
packaging/bundle_contents.py), so PyTorch is shown no GPU, and `--device auto` picks the CPU.
"""

import os
import sys

os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch is imported

if __name__ == "__main__":
    if "--self-test" in sys.argv[1:]:
        from app.gui.self_test import main
    else:
        from app.gui.main import main
    sys.exit(main(sys.argv[1:]))
