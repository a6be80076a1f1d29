"""GET /v1/tasks: the caller's tasks, newest first, a page at a time, through the submit function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apigw_events import call, rest_event

from midiscribe.aws.tasks import TaskRepository
from midiscribe.domain.tasks import Task, TaskKind, TaskSource

EPOCH = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def repo(aws_stack) -> TaskRepository:
    return TaskRepository(aws_stack.tasks_table, client=aws_stack.dynamodb)


def add_tasks(repo: TaskRepository, owner: str, count: int, *, first_minute: int = 0) -> list[Task]:
    """``count`` tasks of ``owner``, one a minute, oldest first."""
    tasks = []
    for index in range(count):
        task = Task.new(
            kind=TaskKind.AUDIO_TO_MIDI, owner_id=owner,
            source=TaskSource(kind="s3", key=f"uploads/{owner}-{index}/take{index}.wav", filename=f"take{index}.wav"),
            retention_days=1, now=EPOCH + timedelta(minutes=first_minute + index),
        )
        repo.create(task)
        tasks.append(task)
    return tasks


def list_tasks(owner: str, **query: str) -> tuple[int, dict]:
    return call(rest_event("GET", "/v1/tasks", query=query or None, key_id=owner))


def test_pages_run_newest_first_through_every_task_of_the_caller_only(repo) -> None:
    mine = add_tasks(repo, "key_a", 5)
    add_tasks(repo, "key_b", 3, first_minute=30)  # newer, but another key's
    seen, cursor, pages = [], None, 0
    while True:
        status, body = list_tasks("key_a", limit="2", **({"cursor": cursor} if cursor else {}))
        assert status == 200, body
        assert body["success"] is True and len(body["tasks"]) <= 2
        seen += [task["task_id"] for task in body["tasks"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [task.task_id for task in reversed(mine)]
    assert pages == 3  # 2 + 2 + 1, and the last page says so instead of leading to an empty one


def test_each_task_is_described_as_by_id_describes_it(repo, aws_stack) -> None:
    (task,) = add_tasks(repo, "key_a", 1)
    status, body = list_tasks("key_a")
    assert status == 200 and body["next_cursor"] is None
    (listed,) = body["tasks"]
    _, by_id = call(rest_event("GET", "/v1/byId", query={"task_id": task.task_id}, key_id="key_a"))
    assert listed.keys() == by_id["conversion"].keys()
    assert listed["source_name"] == "take0.wav" and listed["status"] == "IN_QUEUE"
    assert listed["input_file_path"].startswith(f"https://{aws_stack.bucket}.s3.amazonaws.com/uploads/key_a-0/")
    # The caller's own upload comes back as a download, whatever type it was stored under.
    assert "response-content-disposition=attachment" in listed["input_file_path"]


def test_a_page_that_ends_exactly_at_the_oldest_task_has_no_next_cursor(repo) -> None:
    add_tasks(repo, "key_a", 2)
    status, body = list_tasks("key_a", limit="2")
    assert status == 200 and len(body["tasks"]) == 2 and body["next_cursor"] is None


def test_a_key_without_tasks_gets_an_empty_page(repo) -> None:
    add_tasks(repo, "key_b", 2)
    assert list_tasks("key_a") == (200, {"success": True, "tasks": [], "next_cursor": None})


def test_another_keys_cursor_only_moves_within_the_callers_own_tasks(repo) -> None:
    add_tasks(repo, "key_b", 3)
    _, theirs = list_tasks("key_b", limit="1")
    mine = add_tasks(repo, "key_a", 2, first_minute=-10)
    status, body = list_tasks("key_a", cursor=theirs["next_cursor"])
    assert status == 200
    assert {task["task_id"] for task in body["tasks"]} <= {task.task_id for task in mine}


@pytest.mark.parametrize("cursor", ["not-a-cursor", "W10", "WyJhIl0", "eyJhIjogMX0", "WyIiLCIiXQ"])
def test_a_cursor_the_api_did_not_give_out_is_400(repo, cursor: str) -> None:
    status, body = list_tasks("key_a", cursor=cursor)
    assert status == 400 and body["code"] == "INVALID_CURSOR"
    assert "next_cursor" in body["error"]


def test_a_cursor_outside_its_alphabet_is_refused_as_an_invalid_parameter(repo) -> None:
    status, body = list_tasks("key_a", cursor="W10=")
    assert status == 400 and body["code"] == "INVALID_PARAMETER" and "cursor" in body["error"]


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_limit_outside_1_to_100_is_400(repo, limit: str) -> None:
    status, body = list_tasks("key_a", limit=limit)
    assert status == 400 and body["code"] == "INVALID_PARAMETER" and "limit" in body["error"]


def test_no_key_is_401(repo) -> None:
    status, body = call(rest_event("GET", "/v1/tasks", key_id=None))
    assert status == 401 and body["code"] == "UNAUTHORIZED"


def test_a_filter_the_list_does_not_have_is_refused_not_ignored(repo) -> None:
    # ?status=FAILED listed every task, as though they had all failed.
    add_tasks(repo, "key_a", 2)
    status, body = list_tasks("key_a", status="FAILED", limit="5")
    assert status == 400 and body["code"] == "INVALID_PARAMETER"
    assert "limit and cursor only, not status" in body["error"] and "filter them on your side" in body["error"]
    assert list_tasks("key_a", limit="5")[0] == 200
