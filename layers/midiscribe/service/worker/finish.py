"""Steps 5 and 6: record the outcome with a conditional write, then queue the webhook once.

A status change another delivery made first stands (the state machine refuses ours); a task that
has finished gets its notify message once, however many times its queue message arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from midiscribe.domain.messages import finished_event, notify_message
from midiscribe.domain.ports import MessageSender, TaskStore
from midiscribe.domain.tasks import (
    COMPLETED_MESSAGES,
    FAILED_MESSAGES,
    InvalidTransitionError,
    Task,
    TaskStatus,
)

from .jobs import JobResult


@dataclass(kw_only=True)
class TaskFinisher:
    tasks: TaskStore
    notify_queue: MessageSender
    log: Any
    metrics: Any = None

    def complete(self, task: Task, result: JobResult, outputs: dict[str, str], elapsed_s: float) -> Task | None:
        """The task COMPLETED with its outputs; None when another delivery finished it first."""
        result.timings["total_s"] = round(elapsed_s, 4)
        try:
            completed = self.tasks.complete(
                task.task_id,
                outputs=outputs,
                status_msg=COMPLETED_MESSAGES[task.kind],
                audio_duration_s=result.audio_duration_s,
                note_count=result.note_count,
                timings=result.timings,
                model=result.model,
                model_name=result.model_name,
            )
        except InvalidTransitionError as refused:
            self.log.info("task finished elsewhere", extra={"status": str(refused.current)})
            return None
        self.log.info(
            "task completed",
            extra={"audio_s": result.audio_duration_s, "notes": result.note_count, "seconds": round(elapsed_s, 3),
                   "timings": result.timings},
        )
        self._metric("ProcessingSeconds", "Seconds", elapsed_s)
        if result.audio_duration_s:
            self._metric("AudioSeconds", "Seconds", result.audio_duration_s)
            if elapsed_s > 0:
                self._metric("RealTimeFactor", "Count", result.audio_duration_s / elapsed_s)
        return completed

    def fail(self, task: Task, message: str, code: str) -> Task | None:
        """The task FAILED with the reason; None when it had already finished."""
        try:
            failed = self.tasks.fail(task.task_id, error=message, error_code=code, status_msg=FAILED_MESSAGES[task.kind])
        except InvalidTransitionError:
            return None
        self.log.warning("task failed", extra={"code": code, "error": message})
        self._metric("TasksFailed", "Count", 1)
        return failed

    def notify_once(self, task: Task) -> None:
        """Queue the finished task's webhook, unless it has none or it was queued before."""
        if not task.webhook_url or task.notify_queued or not task.status.is_final:
            return
        event = finished_event(task)
        self.notify_queue.send(notify_message(task.task_id, event))
        self.tasks.mark_notify_queued(task.task_id)
        self.log.info("webhook queued", extra={"event": event})

    def status_of(self, task_id: str) -> TaskStatus | None:
        current = self.tasks.get(task_id)
        return current.status if current else None

    def _metric(self, name: str, unit: str, value: float) -> None:
        if self.metrics is not None:
            self.metrics.add_metric(name=name, unit=unit, value=value)
