"""Fetch face-api's npm package once and convert its face networks for `app.faces.identity` (setup.sh runs it).

    .venv/bin/python scripts/convert_face_api.py [--output FILE]

Does nothing when the converted file exists and was made from the expected source files. Otherwise
`npm pack @vladmandic/face-api@1.7.15` fetches the package (12 MB, MIT) into `.cache/face-api/` beside the
output, its SHA-256 and those of the four model files are checked, and the converted weights are written
atomically (12 MB, float16).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.errors import StudioError
from app.faces.face_api_convert import PACKAGE, ensure_converted
from app.faces.identity import default_weights_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=default_weights_path(), help="converted weights file")
    args = parser.parse_args(argv)
    try:
        converted = ensure_converted(args.output, args.output.parent)
    except StudioError as exc:
        print(f"Face identity weights not made: {exc}", file=sys.stderr)
        return 1
    print(f"{'Converted' if converted else 'Already converted:'} {PACKAGE} → {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
