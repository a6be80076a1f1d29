"""One task, start to end, in six steps: claim → fetch input → run → write outputs → finish → notify.

Claiming moves ``IN_QUEUE`` (or a ``PROCESSING`` left behind by a crashed worker) to
``PROCESSING``; a finished task is left alone, so a redelivered message does no work twice.

Failures come in two kinds. Input that can never work (not audio, too long, a URL that answers
404, an object that no longer exists) ends the task ``FAILED`` with a message for the user, and the
queue message is consumed. Anything else (throttling, timeouts, network) is raised so SQS retries;
on the queue's last receive the task is marked ``FAILED`` first, so nothing is left ``PROCESSING``
when the message moves to the dead-letter queue.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any

from midiscribe.domain.ports import TaskStore
from midiscribe.domain.tasks import InvalidTransitionError, Task, TaskKind, TaskStatus
from midiscribe.engine.errors import EngineError, ModelNotFoundError

from ..config import MB, Settings
from .errors import OutOfScratchSpace, TaskInputError, TransientError, describe_transient, out_of_space
from .finish import TaskFinisher
from .jobs import Job, JobResult
from .results import ResultWriter


@dataclass
class TaskPipeline:
    settings: Settings
    _: KW_ONLY
    tasks: TaskStore
    jobs: Mapping[TaskKind, Job]
    results: ResultWriter
    finisher: TaskFinisher
    log: Any

    def process(self, task_id: str, *, receive_count: int = 1) -> TaskStatus | None:
        """Run the task unless it is finished; raises (so SQS retries) when a retry may help."""
        self.log.thread_safe_append_keys(task_id=task_id)
        try:
            return self._process(task_id)
        except Exception as error:
            if receive_count >= self.settings.transcribe_max_receive:
                self._give_up(task_id, error, receive_count)
                self.log.exception("task failed on its last attempt", extra={"receive_count": receive_count})
            else:
                self.log.exception("task failed; SQS will retry it", extra={"receive_count": receive_count})
                self._note_retry(task_id, error, receive_count)
            raise
        finally:
            self.log.thread_safe_remove_keys(["task_id"])

    def _process(self, task_id: str) -> TaskStatus | None:
        task = self._claim(task_id)  # 1
        if not isinstance(task, Task):
            return task
        started = time.perf_counter()
        try:
            result, outputs = self._work(task)  # 2, 3, 4
        except TaskInputError as error:
            return self.fail(task, error.message, error.code)
        except EngineError as error:
            if isinstance(error, ModelNotFoundError):
                raise  # a deployment problem, not the input's: retry (and end in the DLQ) rather than blame the file
            if error.detail:
                self.log.info("input refused", extra={"code": error.code, "detail": error.detail[:500]})
            return self.fail(task, error.message, error.code)
        finished = self.finisher.complete(task, result, outputs, time.perf_counter() - started)  # 5
        if finished is None:
            return self.finisher.status_of(task_id)
        self.finisher.notify_once(finished)  # 6
        return finished.status

    def _claim(self, task_id: str) -> Task | TaskStatus | None:
        """The claimed task, or, when there is nothing to do, the status it is in (None: no such task)."""
        task = self.tasks.get(task_id)
        if task is None:
            self.log.warning("message for an unknown task dropped")
            return None
        if task.status.is_final:
            self.log.info("task already finished; nothing to do", extra={"status": task.status.value})
            self.finisher.notify_once(task)
            return task.status
        try:
            claimed = self.tasks.claim(task_id)
        except InvalidTransitionError as refused:
            self.log.info("task not claimable", extra={"status": str(refused.current)})
            current = self.tasks.get(task_id)
            if current is not None and current.status.is_final:
                self.finisher.notify_once(current)
            return current.status if current else None
        self.log.info("task claimed", extra={"kind": claimed.kind.value, "attempt": claimed.attempts})
        return claimed

    def _work(self, task: Task) -> tuple[JobResult, dict[str, str]]:
        """Fetch the input, run the job and upload its files, in a scratch folder removed afterwards."""
        job = self.jobs[task.kind]
        with tempfile.TemporaryDirectory(prefix="midiscribe-") as folder:
            workdir = Path(folder)
            free_mb = shutil.disk_usage(workdir).free / MB
            with self._scratch_space("fetching the input", free_mb):
                inputs = job.fetch(task, workdir)
            with self._scratch_space("writing the outputs", free_mb):
                result = job.run(task, inputs, workdir)
            return result, self.results.write(task, result)

    @contextmanager
    def _scratch_space(self, step: str, free_mb: float) -> Iterator[None]:
        """A disk that runs out of space fails the task at once: another try would run out the same way
        (submit refuses the inputs it can see are too large; a URL's size is only known as it downloads)."""
        try:
            yield
        except Exception as error:
            if not out_of_space(error):
                raise
            if isinstance(error, OutOfScratchSpace):
                step = error.step  # a stem's download, running beside the engine
            raise TaskInputError(
                f"The task does not fit in the worker's scratch space: its disk ran out while {step} "
                f"({free_mb:.0f} MB were free when the task began). {self.settings.scratch_advice()}",
                "FILE_TOO_LARGE",
            ) from error

    def fail(self, task: Task, message: str, code: str) -> TaskStatus:
        failed = self.finisher.fail(task, message, code)
        if failed is None:
            return self.finisher.status_of(task.task_id) or TaskStatus.FAILED
        self.finisher.notify_once(failed)
        return failed.status

    def _note_retry(self, task_id: str, error: Exception, receive_count: int) -> None:
        """Say on the task why it is still PROCESSING: until the queue hands it out again (its visibility
        timeout, 90 minutes as deployed) byId would otherwise show a task at work that nothing works on."""
        reason = str(error) if isinstance(error, TransientError) else describe_transient(error)
        try:
            task = self.tasks.get(task_id)
            if task is not None and task.status is TaskStatus.PROCESSING:
                self.tasks.record_progress(task_id, fraction=task.progress or 0.0, status_msg=(
                    f"Attempt {receive_count} of {self.settings.transcribe_max_receive} failed with a temporary "
                    f"error ({reason[:300]}); it will be tried again automatically."))
        except Exception:  # a note on the task must not hide the error that is being retried
            self.log.exception("noting the retry on the task failed")

    def _give_up(self, task_id: str, error: Exception, receive_count: int) -> None:
        """The queue's last try failed too: record why before the message goes to the dead-letter queue."""
        try:
            task = self.tasks.get(task_id)
            if task is not None and not task.status.is_final:
                self.fail(
                    task,
                    f"The task failed {receive_count} times with a temporary error ({describe_transient(error)}) "
                    "and was given up; submit it again.",
                    "RETRIES_EXHAUSTED",
                )
        except Exception:  # the store itself may be what is failing; the DLQ record remains
            self.log.exception("recording the failure failed")
