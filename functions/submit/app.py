"""SubmitFunction: every API route (MusicGPT- and kie.ai-compatible), served by one Powertools resolver.

The routes live in ``midiscribe.api``; this handler wires the use cases they call to this
deployment's table, bucket and queues, and the Idempotency-Key records to their table (the one place
that happens for this function), and adds logging context and tracing.
"""

from __future__ import annotations

import functools

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths

from midiscribe.api.app import app, resolve
from midiscribe.api.context import USE_CASES
from midiscribe.api.idempotency import IDEMPOTENCY_STORE
from midiscribe.aws.idempotency import idempotency_store
from midiscribe.aws.keys import ApiKeyRepository
from midiscribe.aws.lambda_logs import with_lambda_context
from midiscribe.aws.queues import MessageQueue
from midiscribe.aws.storage import Storage
from midiscribe.aws.tasks import TaskRepository
from midiscribe.service.config import Settings
from midiscribe.service.lookups import TaskLookup
from midiscribe.service.redelivery import WebhookRedelivery
from midiscribe.service.result_links import ResultLinks
from midiscribe.service.submissions import Submissions
from midiscribe.service.uploads import Uploads
from midiscribe.service.use_cases import UseCases

logger = Logger(service="midiscribe")
tracer = Tracer(service="midiscribe")


def use_cases(settings: Settings) -> UseCases:
    """The API's use cases on this deployment's AWS resources (boto3 clients are shared per process)."""
    tasks = TaskRepository(settings.tasks_table)
    storage = Storage(settings.bucket)
    lookup = TaskLookup(settings, tasks=tasks, storage=storage)
    return UseCases(
        settings=settings,
        submissions=Submissions(
            settings, tasks=tasks, storage=storage, transcribe_queue=MessageQueue(settings.transcribe_queue_url),
            lookup=lookup,
        ),
        lookup=lookup,
        uploads=Uploads(settings, storage=storage),
        result_links=ResultLinks(tasks=tasks, keys=ApiKeyRepository(settings.keys_table), storage=storage),
        redelivery=WebhookRedelivery(tasks=tasks, notify_queue=MessageQueue(settings.notify_queue_url)),
    )


@with_lambda_context(logger, correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: object) -> dict:
    # Wired per invocation from the environment (always the current settings: tests and the local stack
    # point it at other endpoints), and only when a route asks: health and the docs need nothing.
    settings = Settings.from_env()
    stores = {IDEMPOTENCY_STORE: functools.cache(lambda: idempotency_store(settings.idempotency_table))}
    app.append_context(**{USE_CASES: functools.cache(lambda: use_cases(settings))},
                       **(stores if settings.idempotency_table else {}))
    return resolve(event, context)
