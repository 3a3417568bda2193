"""What each part of the one-folder bundle costs: a Markdown table of its top-level items, largest first.

    python packaging/bundle_sizes.py "dist/IQPFR Studio"

Sizes are the files' own sizes in MiB (symbolic links count nothing, as PyInstaller links some libraries into the
top folder); items under 10 MiB are added up in one row. torch/ and nvidia/ are shown one level deeper.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MIB = 1 << 20
SMALL_MIB = 10
EXPANDED = ("torch/lib", "nvidia")


def tree_bytes(path: Path) -> int:
    """Bytes of the regular files at or under `path`, not following symbolic links."""
    if path.is_symlink():
        return 0
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def parts(bundle: Path) -> list[tuple[str, int]]:
    """(name relative to the bundle, bytes) for the executable and each top-level item of _internal/; an EXPANDED
    folder is shown by its own items, and the rest of its top-level folder as one row."""
    internal = bundle / "_internal"
    rows = [(path, tree_bytes(path)) for path in [*bundle.iterdir(), *internal.iterdir()] if path != internal]
    for folder in EXPANDED:
        expanded = internal / folder
        top = internal / Path(folder).parts[0]
        if not expanded.is_dir():
            continue
        rows = [row for row in rows if row[0] != top]
        rows += [(path, tree_bytes(path)) for path in expanded.iterdir()]
        if top != expanded:
            rows.append((top / "(the rest)", tree_bytes(top) - tree_bytes(expanded)))
    return [(str(path.relative_to(bundle)), size) for path, size in rows]


def table(bundle: Path) -> str:
    rows = sorted(parts(bundle), key=lambda row: -row[1])
    total = sum(size for _name, size in rows)
    big = [(name, size) for name, size in rows if size >= SMALL_MIB * MIB]
    small = [size for _name, size in rows if size < SMALL_MIB * MIB]
    lines = ["| part | MiB |", "|---|---:|"]
    lines += [f"| `{name}` | {size / MIB:,.0f} |" for name, size in big]
    lines.append(f"| {len(small)} other items (each under {SMALL_MIB} MiB) | {sum(small) / MIB:,.0f} |")
    lines.append(f"| **total** | **{total / MIB:,.0f}** ({total / (1 << 30):.2f} GiB) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the one-folder bundle (dist/IQPFR Studio)")
    args = parser.parse_args(argv)
    if not (args.bundle / "_internal").is_dir():
        print(f"{args.bundle} is not a one-folder bundle (no _internal/ in it).", file=sys.stderr)
        return 1
    print(table(args.bundle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
