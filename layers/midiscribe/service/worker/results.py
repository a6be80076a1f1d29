"""Step 4, write outputs: a job's files uploaded to ``results/{task_id}/``, recorded by output name."""

from __future__ import annotations

import time
from dataclasses import dataclass

from midiscribe.domain.ports import ObjectStore
from midiscribe.domain.tasks import Task

from ..object_keys import result_key
from .jobs import JobResult


@dataclass(kw_only=True)
class ResultWriter:
    storage: ObjectStore

    def write(self, task: Task, result: JobResult) -> dict[str, str]:
        """Upload every file; returns the task's outputs (name -> key), the kept ones included."""
        started = time.perf_counter()
        outputs = dict(result.kept_outputs)
        for file in result.files:
            key = result_key(task.task_id, task.source.stem, file.extension)
            self.storage.upload_file(file.path, key, file.content_type)
            outputs[file.name] = key
        result.timings["upload_s"] = round(time.perf_counter() - started, 4)
        return outputs
