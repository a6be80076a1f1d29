"""The Lambda context on every log line of an invocation, kept per thread.

Powertools' ``inject_lambda_context`` puts the function's name, ARN, memory and request id (and the
correlation id) on the logger's formatter, which every ``Logger(service="midiscribe")`` in the process
shares. In Lambda that is one function and one invocation at a time. The local stack runs every function
in one process, in threads side by side, so one invocation's keys overwrote another's: a worker's "task
completed" was logged as the submit function's, with the API request's correlation id, and with two
workers a task's lines could carry the other task's ``task_id``. Here the keys are the calling thread's
(Powertools' ``thread_safe_*`` keys), set when the handler starts and cleared when it returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model
from aws_lambda_powertools.utilities import jmespath_utils


def with_lambda_context(logger: Logger, *, correlation_id_path: str | None = None) -> Callable:
    """Decorate a handler so that its thread's log lines carry the Lambda context, ``cold_start`` (true on this
    handler's first invocation in the process) and, with ``correlation_id_path``, the correlation id found there
    in the event; the keys are cleared when the handler returns or raises."""

    def decorate(handler: Callable) -> Callable:
        first = [True]

        @functools.wraps(handler)
        def wrapped(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            cold_start, first[0] = first[0], False
            # The keys inject_lambda_context logs, built by the same Powertools function.
            keys = {"cold_start": cold_start, **build_lambda_context_model(context).__dict__}
            if correlation_id_path:
                keys["correlation_id"] = jmespath_utils.query(envelope=correlation_id_path, data=event)
            logger.thread_safe_clear_keys()
            logger.thread_safe_append_keys(**keys)
            try:
                return handler(event, context, *args, **kwargs)
            finally:
                logger.thread_safe_clear_keys()

        return wrapped

    return decorate
