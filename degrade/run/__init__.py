"""Dataset generation: sources -> one dask task per shard -> a zarr v3 store (resumable).

``generate`` makes a store, ``inspect_store`` summarises one, ``contact_sheet`` draws pairs,
``replay_sample`` rebuilds one sample from its source file and record; ``plan_job`` with a
:class:`JobSpec` plans a job without a store (:mod:`.job`). See docs/dataset_engine.md and
docs/architecture.md.
"""
from __future__ import annotations

from .execute import DEFAULT_SHARD_SIZE, generate
from .inspect import contact_sheet, inspect_store, replay_sample
from .job import JobSpec, plan_job
from .store import StoreError, dequantise, open_store

__all__ = ["DEFAULT_SHARD_SIZE", "JobSpec", "StoreError", "contact_sheet", "dequantise", "generate",
           "inspect_store", "open_store", "plan_job", "replay_sample"]
