"""The training side of the length-control stage: where its samples live and the SFT run over them.

Generating the traces needs a model endpoint (`hermes4.llm`), which the train layer does not import: that step
is `hermes4.length_control`, a layer above both.
"""

from __future__ import annotations

from pathlib import Path

from hermes4.train.config import ConfigError, LengthControlConfig, TrainConfig


def samples_dir(lc: LengthControlConfig) -> Path:
    return Path(lc.train.output_dir) / "length_control_samples"


def length_control_train_config(lc: LengthControlConfig) -> TrainConfig:
    """The SFT run of the stage: `lc.train` reading the generated samples instead of a mix."""
    cfg = lc.train
    if not (samples_dir(lc) / "offsets.npy").is_file():
        raise ConfigError(f"length_control: no samples at {samples_dir(lc)}; run `hermes4 length-control "
                          "CONFIG --generate-only` first")
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={"mix": None, "tokenized": str(samples_dir(lc))})})
