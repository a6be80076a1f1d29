"""The task model and its state machine."""

from __future__ import annotations

import pytest

from midiscribe.domain.conversions import ConvertSpec
from midiscribe.domain.tasks import (
    ALLOWED_TRANSITIONS,
    Task,
    TaskKind,
    TaskSource,
    TaskStatus,
    allowed_sources,
    can_transition,
    safe_name,
)
from midiscribe.domain.timestamps import epoch_ms, iso

FORWARD = [
    (TaskStatus.IN_QUEUE, TaskStatus.PROCESSING),
    (TaskStatus.PROCESSING, TaskStatus.COMPLETED),
    (TaskStatus.PROCESSING, TaskStatus.FAILED),
    (TaskStatus.IN_QUEUE, TaskStatus.FAILED),
    (TaskStatus.PROCESSING, TaskStatus.PROCESSING),  # a crashed worker's task is claimed again
]
BACKWARD = [
    (TaskStatus.PROCESSING, TaskStatus.IN_QUEUE),
    (TaskStatus.COMPLETED, TaskStatus.PROCESSING),
    (TaskStatus.COMPLETED, TaskStatus.FAILED),
    (TaskStatus.COMPLETED, TaskStatus.IN_QUEUE),
    (TaskStatus.FAILED, TaskStatus.PROCESSING),
    (TaskStatus.FAILED, TaskStatus.COMPLETED),
    (TaskStatus.IN_QUEUE, TaskStatus.COMPLETED),
    (TaskStatus.IN_QUEUE, TaskStatus.IN_QUEUE),
]


@pytest.mark.parametrize(("current", "target"), FORWARD)
def test_forward_transitions_are_allowed(current: TaskStatus, target: TaskStatus) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(("current", "target"), BACKWARD)
def test_backward_and_skipping_transitions_are_refused(current: TaskStatus, target: TaskStatus) -> None:
    assert not can_transition(current, target)


def test_final_statuses_have_no_way_out() -> None:
    for status in TaskStatus:
        assert status.is_final == (not ALLOWED_TRANSITIONS[status])
    assert {status for status in TaskStatus if status.is_final} == {TaskStatus.COMPLETED, TaskStatus.FAILED}


def test_allowed_sources_are_what_conditional_writes_check() -> None:
    assert set(allowed_sources(TaskStatus.PROCESSING)) == {TaskStatus.IN_QUEUE, TaskStatus.PROCESSING}
    assert set(allowed_sources(TaskStatus.COMPLETED)) == {TaskStatus.PROCESSING}
    assert set(allowed_sources(TaskStatus.FAILED)) == {TaskStatus.IN_QUEUE, TaskStatus.PROCESSING}
    assert allowed_sources(TaskStatus.IN_QUEUE) == ()


def test_new_task_is_queued_with_ttl_and_sortable_timestamps() -> None:
    task = Task.new(
        kind=TaskKind.AUDIO_TO_MIDI,
        owner_id="key_1",
        source=TaskSource(kind="url", url="https://example.com/a.mp3"),
        retention_days=14,
    )
    assert task.status is TaskStatus.IN_QUEUE
    assert task.task_id != task.conversion_id
    assert task.created_at == task.updated_at and task.created_at.endswith("Z")
    from datetime import datetime

    created = datetime.fromisoformat(task.created_at.replace("Z", "+00:00")).timestamp()
    assert abs(task.expires_at - created - 14 * 86400) < 2


def test_item_round_trip_keeps_every_field() -> None:
    task = Task.new(
        kind=TaskKind.FILE_CONVERT,
        owner_id="key_1",
        source=TaskSource(kind="s3", key="uploads/t/song.wav", filename="song.wav"),
        retention_days=1,
        convert=ConvertSpec(target_format="flac", target_sr=44100, target_bit_depth=24),
        webhook_url="https://example.com/hook",
        options={"onset_threshold": 0.6},
        sonify_midi=False,
    )
    task.outputs = {"converted": "results/x/song.flac"}
    task.audio_duration_s = 1.5
    task.note_count = 3
    task.timings = {"total_s": 0.25}
    item = task.to_item()
    assert "webhook_status" not in item  # the webhook code owns those attributes
    again = Task.from_item(item)
    assert again == task


def test_webhook_attributes_are_read_from_the_item() -> None:
    item = Task.new(
        kind=TaskKind.AUDIO_TO_MIDI, owner_id="k", source=TaskSource(kind="url", url="https://e.com/a"), retention_days=1
    ).to_item()
    item.update(webhook_status="delivered", webhook_attempts=[{"at": "t", "status_code": 200}], notify_queued_at="t")
    task = Task.from_item(item)
    assert task.webhook_status == "delivered"
    assert task.webhook_attempts == [{"at": "t", "status_code": 200}]
    assert task.notify_queued


@pytest.mark.parametrize(
    ("source", "stem"),
    [
        (TaskSource(kind="s3", key="uploads/t/My Song (live).mp3", filename="My Song (live).mp3"), "My_Song__live"),
        (TaskSource(kind="s3", key="inbox/folder/take1.wav"), "take1"),
        (TaskSource(kind="url", url="https://example.com/path/track.flac?sig=abc"), "track"),
        (TaskSource(kind="url", url="https://example.com/"), "audio"),
        # A link's name is percent-encoded: my%20song.mp3 is "my song", not "my_20song".
        (TaskSource(kind="url", url="https://example.com/my%20song%2B2.mp3?x=1"), "my_song_2"),
        (TaskSource(kind="s3", key="inbox/..wav"), "wav"),
        # A name in another script keeps no letters: the results are audio.*, not named after its extension.
        (TaskSource(kind="url", url="https://example.com/%E7%B7%B4%E7%BF%92.mp3"), "audio"),
        (TaskSource(kind="s3", key="inbox/Этюд.flac"), "audio"),
    ],
)
def test_result_stem_is_a_safe_name(source: TaskSource, stem: str) -> None:
    assert source.stem == stem


def test_safe_name_strips_paths_and_odd_characters() -> None:
    assert safe_name("../../etc/passwd", default="x") == "passwd"
    assert safe_name("C:\\music\\tune.wav", default="x") == "tune.wav"
    assert safe_name("ümlaut.wav", default="x") == "umlaut.wav"  # was "mlaut.wav"
    assert safe_name("Für Elise (Prélude).wav", default="x") == "Fur_Elise__Prelude_.wav"
    assert safe_name("ＡＢＣ.wav", default="x") == "ABC.wav"  # full-width letters
    assert safe_name("Straße, Ørsted, Łódź, Æther.wav", default="x") == "Strasse__Orsted__Lodz__AEther.wav"
    assert safe_name("", default="audio") == "audio"
    assert len(safe_name("a" * 500, default="x")) == 100


@pytest.mark.parametrize(("name", "safe"), [("練習.wav", "audio.wav"), ("ドラム 2.flac", "2.flac"),
                                            ("Прелюдия ре минор.mp3", "audio.mp3"), ("練習", "audio")])
def test_a_name_in_another_script_keeps_its_extension_after_the_default(name, safe) -> None:
    # It was "wav", "flac"...: the extension alone, which then named the results (wav.mid).
    assert safe_name(name, default="audio") == safe


def test_iso_is_utc_with_milliseconds() -> None:
    from datetime import UTC, datetime

    assert iso(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"


def test_every_stored_time_has_the_one_format_and_reads_back() -> None:
    from datetime import UTC, datetime

    from midiscribe.domain.timestamps import iso_from_epoch, iso_now

    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert iso_from_epoch(moment.timestamp()) == "2026-01-02T03:04:05.678Z"
    assert epoch_ms(iso(moment)) == int(moment.timestamp() * 1000)
    assert epoch_ms("") is None
    stamp = iso_now()
    assert len(stamp) == len("2026-01-02T03:04:05.678Z") and stamp.endswith("Z")
