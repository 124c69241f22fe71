"""reasoning-gym's procedural datasets as hermes4 envs: the catalog, the out-of-process scorer, the env (its scripted teacher is hermes4.teacher.reasoning_gym)."""

from hermes4.envs.rgym.catalog import EXCLUDED, presets, probe_dataset, usable_datasets

__all__ = ["EXCLUDED", "presets", "probe_dataset", "usable_datasets"]
