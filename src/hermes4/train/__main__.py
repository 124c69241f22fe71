"""`torchrun --nproc_per_node N -m hermes4.train CONFIG [--dry-run] [--length-control]`: the multi-process entry
point. CONFIG is a resolved training config as JSON (what `hermes4 run` passes) or a recipe YAML (`--length-control`
trains the length-control stage on samples from `hermes4 length-control --generate-only`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from hermes4.train.entry import run_train

    args = list(sys.argv[1:] if argv is None else argv)
    flags = {"--dry-run", "--length-control"}
    paths = [a for a in args if a not in flags]
    if len(paths) != 1 or any(a.startswith("--") for a in paths):
        print("usage: python -m hermes4.train CONFIG.json|CONFIG.yaml [--dry-run] [--length-control]", file=sys.stderr)
        return 2
    return run_train(paths[0], dry_run="--dry-run" in args, length_control="--length-control" in args)


if __name__ == "__main__":
    sys.exit(main())
