"""`torchrun --nproc_per_node N -m hermes4.train CONFIG.yaml [--dry-run]`: the multi-process entry point."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from hermes4.cli.train import run_train

    args = list(sys.argv[1:] if argv is None else argv)
    dry_run = "--dry-run" in args
    paths = [a for a in args if a != "--dry-run"]
    if len(paths) != 1:
        print("usage: python -m hermes4.train CONFIG.yaml [--dry-run]", file=sys.stderr)
        return 2
    return run_train(paths[0], dry_run=dry_run)


if __name__ == "__main__":
    sys.exit(main())
