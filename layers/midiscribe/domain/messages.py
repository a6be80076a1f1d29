"""What the queues carry between the functions, and the events a finished task announces.

The transcribe queue carries ``{"task_id"}``; the notify queue ``{"task_id", "event"}`` (the
webhook code adds its retry bookkeeping to the messages it sends itself).
"""

from __future__ import annotations

from .tasks import Task, TaskStatus

TASK_COMPLETED = "task.completed"
TASK_FAILED = "task.failed"
EVENTS = (TASK_COMPLETED, TASK_FAILED)


def finished_event(task: Task) -> str:
    """The event a finished task's webhook carries."""
    if task.status is TaskStatus.COMPLETED:
        return TASK_COMPLETED
    if task.status is TaskStatus.FAILED:
        return TASK_FAILED
    raise ValueError(f"task {task.task_id} is {task.status.value}, not finished: there is no event to deliver yet")


def transcribe_message(task_id: str) -> dict[str, str]:
    return {"task_id": task_id}


def notify_message(task_id: str, event: str) -> dict[str, str]:
    return {"task_id": task_id, "event": event}
