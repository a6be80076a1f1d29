"""The two ways a step can fail besides the engine's own errors."""

from __future__ import annotations

import errno


class TaskInputError(Exception):
    """The task's input can never be processed; the task fails with this message and is not retried."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


class OutOfScratchSpace(Exception):
    """The worker's disk ran out of space while ``step`` ("fetching the input"): raised from the error it caused,
    where the step the pipeline is in does not say (a stem downloading beside the engine)."""

    def __init__(self, step: str):
        super().__init__(f"the disk ran out of space while {step}")
        self.step = step


class TransientError(Exception):
    """Worth retrying later (a download that timed out)."""


def describe_transient(error: BaseException) -> str:
    """A reason a user can read, without internals: the error's type and, for AWS errors, their code."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else getattr(error, "reason", "")
    return f"{type(error).__name__}{f' ({code})' if code else ''}"


def out_of_space(error: BaseException | None) -> bool:
    """Whether ``error``, or an error that led to it, is a disk (or a quota on it) that ran out of space."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        error = error.__cause__ or error.__context__
    return False
