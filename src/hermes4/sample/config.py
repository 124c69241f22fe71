"""What a sampling run is asked to do: `SampleConfig`, validated, with the options a resume must repeat."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hermes4.sample.rollouts import RolloutLimits

# Options that change which records a run writes: resuming an output folder with other values would mix two
# datasets, so the store refuses it. (--limit and --concurrency may change between runs.)
MUST_MATCH = ("envs", "split", "group_size", "keep", "max_tokens", "thinking", "seed", "temperature", "top_p", "top_k")


class SampleConfig(BaseModel):
    """Rejection sampling of `envs` with `llm` into `out`: per item up to `group_size` samples, keep `keep`."""

    model_config = ConfigDict(extra="forbid")

    envs: list[str] = Field(min_length=1)
    llm: str
    out: Path
    split: str = "train"
    group_size: int = Field(default=8, ge=1)
    keep: int = Field(default=2, ge=1)
    max_tokens: int = Field(default=4096, ge=1)
    thinking: bool = True
    limit: int | None = Field(default=None, ge=1)
    concurrency: int = Field(default=64, ge=1)
    seed: int = 0
    temperature: float = Field(default=0.6, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int = Field(default=20, ge=-1)
    # None: one wave asks for as many samples as accepts are still missing (no wasted samples on easy items).
    wave_size: int | None = Field(default=None, ge=1)
    verify_workers: int = Field(default=8, ge=1)
    rollout_timeout_s: float | None = Field(default=600.0, gt=0)
    # Abort (and keep everything written) after this many rollout failures in a row: the model is down.
    max_consecutive_failures: int = Field(default=64, ge=1)

    @field_validator("envs")
    @classmethod
    def _distinct_envs(cls, value: list[str]) -> list[str]:
        value = [v.strip() for v in value]
        if len(set(value)) != len(value):
            raise ValueError("the same env is named twice")
        return value

    @model_validator(mode="after")
    def _keep_within_group(self) -> SampleConfig:
        if self.keep > self.group_size:
            raise ValueError(f"keep ({self.keep}) cannot exceed group_size ({self.group_size})")
        return self

    def limits(self) -> RolloutLimits:
        return RolloutLimits(self.concurrency, self.verify_workers, self.rollout_timeout_s, self.max_consecutive_failures)

    def fingerprint(self) -> dict[str, object]:
        """The config as stored in the manifest (JSON values)."""
        return self.model_dump(mode="json")
