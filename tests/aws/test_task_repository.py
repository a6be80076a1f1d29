"""TaskRepository's conditional writes in moto: the state machine holds even against racing workers."""

from __future__ import annotations

import pytest

from midiscribe.aws.tasks import TaskRepository
from midiscribe.domain.errors import TaskExistsError
from midiscribe.domain.tasks import InvalidTransitionError, Task, TaskKind, TaskSource, TaskStatus


@pytest.fixture
def repo(aws_stack) -> TaskRepository:
    return TaskRepository(aws_stack.tasks_table, client=aws_stack.dynamodb)


def new_task(owner: str = "key_1") -> Task:
    return Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=owner, retention_days=1,
                    source=TaskSource(kind="url", url="https://example.com/a.wav"),
                    options={"onset_threshold": 0.55}, webhook_url="https://example.com/hook")


def test_create_get_and_refuse_a_duplicate(repo) -> None:
    task = new_task()
    repo.create(task)
    assert repo.get(task.task_id) == task
    with pytest.raises(TaskExistsError):
        repo.create(task)
    assert repo.get("missing") is None


def test_options_too_small_for_dynamodb_are_stored_as_the_smallest_number_it_holds(repo) -> None:
    """DynamoDB numbers stop at 1E-130: a client's 6e-276 (found by the API fuzz run) must not be a 500."""
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id="key_1", retention_days=1,
                    source=TaskSource(kind="url", url="https://example.com/a.wav"),
                    options={"onset_threshold": 6.2129348805983045e-276, "frame_threshold": -1e-200,
                             "minimum_note_length_ms": 1e-130, "midi_tempo": 304.579019589636})
    repo.create(task)
    assert repo.get(task.task_id).options == {"onset_threshold": 1e-130, "frame_threshold": -1e-130,
                                              "minimum_note_length_ms": 1e-130, "midi_tempo": 304.579019589636}


def test_find_by_conversion_id_and_list_by_owner(repo) -> None:
    first, second, other = new_task(), new_task(), new_task("key_2")
    for task in (first, second, other):
        repo.create(task)
    assert repo.get_by_conversion_id(second.conversion_id).task_id == second.task_id
    assert repo.get_by_conversion_id("nope") is None
    assert {task.task_id for task in repo.list_by_owner("key_1")} == {first.task_id, second.task_id}


def test_forward_path_and_no_way_back(repo) -> None:
    task = new_task()
    repo.create(task)
    with pytest.raises(InvalidTransitionError):
        repo.complete(task.task_id, outputs={}, status_msg="done")  # IN_QUEUE → COMPLETED skips a step
    claimed = repo.claim(task.task_id)
    assert claimed.status is TaskStatus.PROCESSING and claimed.attempts == 1
    again = repo.claim(task.task_id)  # a crashed worker's task is claimed again
    assert again.attempts == 2
    assert repo.record_progress(task.task_id, fraction=0.5, status_msg="Transcribing: 50%")
    done = repo.complete(task.task_id, outputs={"midi": "results/x/a.mid"}, status_msg="done",
                         audio_duration_s=2.5, note_count=4, timings={"total_s": 0.1})
    assert done.status is TaskStatus.COMPLETED and done.outputs == {"midi": "results/x/a.mid"}
    assert done.progress == 0.5 and done.audio_duration_s == 2.5 and done.note_count == 4
    for attempt in (lambda: repo.claim(task.task_id),
                    lambda: repo.fail(task.task_id, error="late", error_code="X", status_msg="failed"),
                    lambda: repo.complete(task.task_id, outputs={}, status_msg="twice")):
        with pytest.raises(InvalidTransitionError) as refused:
            attempt()
        assert refused.value.current is TaskStatus.COMPLETED
    assert not repo.record_progress(task.task_id, fraction=0.9, status_msg="late")
    assert repo.get(task.task_id).status_msg == "done"


def test_failed_is_final_and_unknown_tasks_cannot_move(repo) -> None:
    task = new_task()
    repo.create(task)
    failed = repo.fail(task.task_id, error="could not queue", error_code="QUEUE_UNAVAILABLE", status_msg="failed")
    assert failed.status is TaskStatus.FAILED and failed.error == "could not queue"
    with pytest.raises(InvalidTransitionError):
        repo.claim(task.task_id)
    with pytest.raises(InvalidTransitionError) as refused:
        repo.claim("no-such-task")
    assert refused.value.current is None


def test_updates_keep_the_webhook_codes_attributes(repo, aws_stack) -> None:
    task = new_task()
    repo.create(task)
    aws_stack.dynamodb.update_item(
        TableName=aws_stack.tasks_table, Key={"task_id": {"S": task.task_id}},
        UpdateExpression="SET webhook_status = :s, webhook_attempts = :a",
        ExpressionAttributeValues={":s": {"S": "pending"},
                                   ":a": {"L": [{"M": {"status_code": {"N": "500"}, "at": {"S": "t"}}}]}},
    )
    repo.claim(task.task_id)
    repo.complete(task.task_id, outputs={}, status_msg="done")
    repo.mark_notify_queued(task.task_id)
    stored = repo.get(task.task_id)
    assert stored.webhook_status == "pending" and stored.webhook_attempts == [{"status_code": 500, "at": "t"}]
    assert stored.notify_queued
