#!/bin/bash
# Run where PyPI is reachable, before a GPU session: downloads into benchmarks/gpu/wheels/ the wheels that an
# offline GPU box with only torch, transformers and triton lacks (hermes4's trainer needs pydantic; the TRL part
# needs trl and its data stack). The folder is git-ignored; carry it to the box (the device tool's `carry`, 64 MiB).
# PY_VERSION must be the box's Python (e.g. 3.10, 3.11, 3.12).
set -euo pipefail
cd "$(dirname "$0")"
PY_VERSION=${PY_VERSION:-3.11}
mkdir -p wheels
pip download -q --only-binary=:all: --no-deps --python-version "$PY_VERSION" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    --platform any -d wheels \
    pydantic pydantic-core annotated-types typing-inspection \
    trl accelerate datasets pyarrow dill multiprocess xxhash pandas python-dateutil pytz tzdata fsspec
du -sh wheels
