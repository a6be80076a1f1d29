"""SubmitFunction: every API route (MusicGPT- and kie.ai-compatible), served by one Powertools resolver.

The routes live in ``midiscribe.api.routes``; this handler only adds logging context and tracing.
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.logging import correlation_paths

from midiscribe.api.routes import app, logger

tracer = Tracer(service="midiscribe")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
