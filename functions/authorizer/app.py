"""AuthorizerFunction: API Gateway REQUEST authorizer on the Authorization header.

A known, enabled key gets an Allow for the whole API with ``{key_id, key_name}`` as context and the
key id as usage-plan identifier; anything else is "Unauthorized" (API Gateway's 401). The decision
is ``midiscribe.service.authorization``'s; this handler gives it the keys table.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Tracer

from midiscribe.aws.keys import ApiKeyRepository
from midiscribe.aws.lambda_logs import with_lambda_context
from midiscribe.service.authorization import Unauthorized, allow_policy, authorize, header_value
from midiscribe.service.config import Settings

logger = Logger(service="midiscribe")
tracer = Tracer(service="midiscribe")


@with_lambda_context(logger)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: object) -> dict:
    keys = ApiKeyRepository(Settings.from_env().keys_table)
    try:
        caller = authorize(header_value(event, "Authorization"), keys)
    except Unauthorized as refusal:
        logger.info("request refused", extra={"reason": str(refusal)})
        # This exact message is what makes API Gateway answer 401 rather than 500.
        raise Exception("Unauthorized") from None  # noqa: B904
    logger.info("request allowed", extra={"key_id": caller.key_id})
    return allow_policy(caller, str(event.get("methodArn", "")))
