"""The Lambda context on log lines is the invocation's own, also with functions running side by side in threads."""

from __future__ import annotations

import io
import json
import threading

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from midiscribe.aws.lambda_logs import with_lambda_context
from midiscribe.local.functions import LambdaContext as LocalLambdaContext


def logged(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_two_functions_in_threads_each_log_their_own_context():
    # The local stack runs every function in one process; every Logger(service="midiscribe") shares one formatter.
    stream = io.StringIO()
    submit_logger = Logger(service="lambda-logs-test", stream=stream)
    worker_logger = Logger(service="lambda-logs-test", stream=stream)
    entered, logged_once = threading.Barrier(2), threading.Barrier(2)

    def handler(logger: Logger, message: str):
        def handle(event, context):
            entered.wait(5)  # both invocations have set their keys before either logs
            logger.info(message)
            logged_once.wait(5)
            logger.thread_safe_append_keys(task_id=event["task"])
            logger.info(message + " again")
            return "ok"

        return handle

    submit = with_lambda_context(submit_logger)(handler(submit_logger, "from submit"))
    worker = with_lambda_context(worker_logger)(handler(worker_logger, "from worker"))
    threads = [threading.Thread(target=submit, args=({"task": "t-submit"}, LocalLambdaContext("SubmitFunction"))),
               threading.Thread(target=worker, args=({"task": "t-worker"}, LocalLambdaContext("TranscribeFunction")))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    lines = logged(stream)
    assert len(lines) == 4
    for line in lines:
        name = "SubmitFunction" if line["message"].startswith("from submit") else "TranscribeFunction"
        assert line["function_name"] == name, line
        assert line["function_arn"].endswith(f":function:{name}")
        assert line["cold_start"] is True
        if line["message"].endswith("again"):
            assert line["task_id"] == ("t-submit" if name == "SubmitFunction" else "t-worker")


def test_keys_last_for_the_invocation_only():
    stream = io.StringIO()
    logger = Logger(service="lambda-logs-test-keys", stream=stream)  # a service of its own: its own stream

    @with_lambda_context(logger, correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def handle(event, context):
        logger.thread_safe_append_keys(key_id="key_1")
        logger.info("inside")
        if event.get("fail"):
            raise ValueError("boom")

    event = {"requestContext": {"requestId": "req-1"}}
    handle(event, LocalLambdaContext("SubmitFunction"))
    try:
        handle({**event, "fail": True}, LocalLambdaContext("SubmitFunction"))
    except ValueError:
        pass
    logger.info("outside")
    first, second, outside = logged(stream)
    assert first["cold_start"] is True and second["cold_start"] is False
    assert first["correlation_id"] == second["correlation_id"] == "req-1"
    assert first["key_id"] == "key_1"
    assert first["function_request_id"] != second["function_request_id"]
    # Nothing of an invocation stays on the thread after it, raised or not.
    assert not {"function_name", "correlation_id", "key_id", "cold_start"} & set(outside)
