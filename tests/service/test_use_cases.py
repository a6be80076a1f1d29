"""The API's use cases over in-memory stores: what is checked, stored and queued, and what is refused."""

from __future__ import annotations

import math
import struct

import pytest
from fakes import FakeKey, FakeKeys, FakeQueue, FakeStorage, FakeTasks

from midiscribe.domain.conversions import ConvertSpec
from midiscribe.domain.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    TooLargeError,
    UnprocessableError,
)
from midiscribe.domain.requests import (
    AudioInput,
    AudioToMidiRequest,
    FileConvertRequest,
    MidiGenerateRequest,
    StemInput,
    UploadedFile,
    UploadRequest,
)
from midiscribe.domain.tasks import Task, TaskKind, TaskSource, TaskStatus
from midiscribe.service.config import Settings
from midiscribe.service.lookups import TaskLookup
from midiscribe.service.redelivery import MAX_RECORDED_ATTEMPTS, WebhookRedelivery
from midiscribe.service.result_links import ResultLinks
from midiscribe.service.submissions import Submissions
from midiscribe.service.uploads import Uploads
from midiscribe.webhooks.file_links import FileLink, sign

OWNER = "key_owner"
SETTINGS = Settings(bucket="bucket", max_upload_mb=0.001, retention_days=1)  # about 1 KB


def dns(host: str, port: int) -> list[str]:
    return ["127.0.0.1"] if host == "internal.example" else ["93.184.216.34"]


class Api:
    def __init__(self, *, broken_queue: bool = False, settings: Settings = SETTINGS) -> None:
        self.tasks, self.storage, self.queue = FakeTasks(), FakeStorage(), FakeQueue(broken=broken_queue)
        self.lookup = TaskLookup(settings, tasks=self.tasks, storage=self.storage)
        self.submissions = Submissions(settings, tasks=self.tasks, storage=self.storage, transcribe_queue=self.queue,
                                       lookup=self.lookup, resolver=dns)

    def submit(self, audio: AudioInput, **fields) -> Task:
        return self.submissions.submit_audio_to_midi(OWNER, AudioToMidiRequest(audio=audio, options={}, **fields)).task


def test_an_upload_is_stored_then_the_task_written_then_queued() -> None:
    api = Api()
    task = api.submit(AudioInput(file=UploadedFile("My Song.wav", "audio/wav", b"RIFF" + bytes(100))))
    assert api.tasks.get(task.task_id).status is TaskStatus.IN_QUEUE
    assert task.source.key == f"uploads/{OWNER}/{task.task_id}/My_Song.wav" and task.source.key in api.storage.objects
    assert api.queue.sent == [{"task_id": task.task_id}]


@pytest.mark.parametrize(("field", "code"), [("audio_url", "INVALID_AUDIO_URL"), ("webhook_url", "INVALID_WEBHOOK_URL")])
def test_urls_that_lead_inside_are_refused_before_anything_is_stored(field, code) -> None:
    api = Api()
    urls = {"audio_url": "https://public.example/a.wav", "webhook_url": "https://public.example/hook"}
    urls[field] = "https://internal.example/x"
    with pytest.raises(InvalidRequestError) as refused:
        api.submit(AudioInput(url=urls["audio_url"]), webhook_url=urls["webhook_url"])
    assert refused.value.code == code and refused.value.message.startswith(f"{field} is refused:")
    assert "loopback" in refused.value.message
    assert api.tasks.items == {} and api.queue.sent == []


def test_a_file_over_the_deployments_limit_is_refused() -> None:
    api = Api()
    with pytest.raises(TooLargeError) as refused:
        api.submit(AudioInput(file=UploadedFile("a.wav", "audio/wav", b"x" * 2000)))
    assert refused.value.code == "FILE_TOO_LARGE" and "/v1/uploads" in refused.value.message
    assert api.storage.objects == {}


def test_an_audio_path_must_name_an_object_within_the_limit() -> None:
    api = Api()
    with pytest.raises(NotFoundError) as missing:
        api.submit(AudioInput(key=f"uploads/{OWNER}/u/none.wav"))
    assert missing.value.code == "AUDIO_NOT_FOUND"
    api.storage.put_bytes(f"uploads/{OWNER}/u/big.wav", b"x" * 2000)
    with pytest.raises(TooLargeError):
        api.submit(AudioInput(key=f"uploads/{OWNER}/u/big.wav"))
    api.storage.put_bytes(f"uploads/{OWNER}/u/ok.wav", b"x" * 100)
    assert api.submit(AudioInput(key=f"uploads/{OWNER}/u/ok.wav")).source == TaskSource(
        kind="s3", key=f"uploads/{OWNER}/u/ok.wav")


def test_a_task_on_an_earlier_upload_is_listed_by_the_name_the_file_was_uploaded_under() -> None:
    api = Api()
    form = Uploads(SETTINGS, storage=api.storage).create(OWNER, UploadRequest("Fur_Elise.wav", "audio/wav",
                                                                              shown_name="練習 Für Elise.wav"))
    api.storage.put_bytes(form.key, b"x" * 100)
    source = api.submit(AudioInput(key=form.key)).source
    assert source == TaskSource(kind="s3", key=form.key, filename="練習 Für Elise.wav")
    assert source.stem == "Fur_Elise"  # the result files' names stay ASCII
    stems = api.submissions.submit_audio_to_midi(OWNER, stem_request(StemInput("keys", AudioInput(key=form.key))))
    assert stems.task.source.stems[0].source.filename == "練習 Für Elise.wav"


@pytest.mark.parametrize("key", ["uploads/key_other/u/theirs.wav", "uploads/theirs.wav", "inbox/dropped.wav",
                                 "results/t/a.mid", f"uploads/{OWNER}x/u/prefix-trick.wav"])
def test_anything_but_the_callers_own_uploads_is_answered_like_a_missing_object(key) -> None:
    api = Api()
    api.storage.put_bytes(key, b"RIFF" + bytes(100))
    missing = f"uploads/{OWNER}/u/nothing.wav"
    answers = []
    for path in (key, missing):
        with pytest.raises(NotFoundError) as refused:
            api.submit(AudioInput(key=path, path=path))
        answers.append((refused.value.code, refused.value.message.replace(path, "<PATH>")))
    assert answers[0] == answers[1] and api.tasks.items == {}
    assert key not in api.storage.reads  # not even read


def wav_header(rate: int, channels: int, seconds: float, bits: int = 16) -> bytes:
    """A PCM WAV header declaring ``seconds`` of audio, and the first of its samples (a few hundred bytes)."""
    block = channels * bits // 8
    size = int(seconds * rate) * block
    fmt = struct.pack("<IHHIIHH", 16, 1, channels, rate, (rate * block) & 0xFFFFFFFF, block, bits)
    return b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", size) + bytes(256)


ROOMY = Settings(bucket="bucket", max_upload_mb=1, retention_days=1, max_duration_s=600)


@pytest.mark.parametrize(
    ("header", "refusal", "code", "words"),
    [
        (wav_header(1, 1, 2000), InvalidRequestError, "UNSUPPORTED_AUDIO", "sample rate of 1 Hz"),
        (wav_header(384_000, 8, 60), InvalidRequestError, "UNSUPPORTED_AUDIO", "4000 to 192000 Hz"),
        (wav_header(44100, 16, 1), InvalidRequestError, "UNSUPPORTED_AUDIO", "1 to 8 channels"),
        (wav_header(251_211_883, 2, 1), InvalidRequestError, "CORRUPT_AUDIO", "has a damaged header"),
        (wav_header(44100, 2, 601), TooLargeError, "AUDIO_TOO_LONG", "the maximum is 10.0 minutes"),
        (wav_header(44100, 2, 0)[:44], InvalidRequestError, "ZERO_LENGTH_AUDIO", "holds no audio samples"),
    ],
)
def test_what_a_header_declares_is_checked_before_anything_is_stored(header, refusal, code, words) -> None:
    api = Api(settings=ROOMY)
    with pytest.raises(refusal) as refused:
        api.submit(AudioInput(file=UploadedFile("take.wav", "audio/wav", header)))
    assert refused.value.code == code and words in refused.value.message and "take.wav" in refused.value.message
    assert api.storage.objects == {} and api.tasks.items == {}


def stem_request(*stems: StemInput, **options) -> AudioToMidiRequest:
    return AudioToMidiRequest(audio=AudioInput(), options=options, stems=stems)


def upload_stem(name: str, seconds: float = 2.0, instrument: str = "") -> StemInput:
    return StemInput(name, AudioInput(file=UploadedFile(f"{name}.wav", "audio/wav", wav_header(22050, 1, seconds))),
                     instrument)


def test_stems_are_stored_each_under_the_callers_uploads_and_recorded_with_their_families() -> None:
    api = Api(settings=ROOMY)
    api.storage.put_bytes(f"uploads/{OWNER}/u/keys.wav", wav_header(44100, 2, 30))
    request = stem_request(upload_stem("drums"), upload_stem("low end", instrument="bass"), upload_stem("pad"),
                           StemInput("keys", AudioInput(key=f"uploads/{OWNER}/u/keys.wav")),
                           StemInput("tune", AudioInput(url="https://example.com/tune.mp3")), instrument="winds")
    queued = api.submissions.submit_audio_to_midi(OWNER, request)
    task = api.tasks.get(queued.task.task_id)
    assert task.source.kind == "stems" and task.source.stem == "stems"
    assert [(s.name, s.family) for s in task.source.stems] == [
        ("drums", "drums"), ("low end", "bass"), ("pad", "synth"), ("keys", "electric_piano"), ("tune", "winds")]
    uploads = [s.source.key for s in task.source.stems[:3]]
    assert uploads == [f"uploads/{OWNER}/{task.task_id}/{name}/{name}.wav" for name in ("drums", "low_end", "pad")]
    assert all(key in api.storage.objects for key in uploads)
    assert task.source.stems[3].source.key == f"uploads/{OWNER}/u/keys.wav"
    assert task.source.stems[4].source.url == "https://example.com/tune.mp3"
    assert task.options == {"instrument": "winds"} and api.queue.sent == [{"task_id": task.task_id}]
    # The stems share the worker's CPUs, so their times add up: three 2-s uploads, the 30-s keys and, for the URL,
    # the 180 s assumed of audio not yet seen, at the general model's 20x real time, after 10 s of queueing.
    assert queued.eta_seconds == 10 + math.ceil((3 * 2 + 30 + 180) / 20)


@pytest.mark.parametrize(
    ("stem", "refusal", "code"),
    [
        (upload_stem("bass", seconds=601), TooLargeError, "AUDIO_TOO_LONG"),
        (StemInput("bass", AudioInput(key="uploads/key_other/u/bass.wav")), NotFoundError, "AUDIO_NOT_FOUND"),
        (StemInput("bass", AudioInput(url="https://internal.example/bass.wav")), InvalidRequestError,
         "INVALID_AUDIO_URL"),
    ],
)
def test_a_stem_that_cannot_work_refuses_the_request_naming_it_before_anything_is_stored(stem, refusal, code):
    api = Api(settings=ROOMY)
    api.storage.put_bytes("uploads/key_other/u/bass.wav", wav_header(22050, 1, 1))
    with pytest.raises(refusal) as refused:
        api.submissions.submit_audio_to_midi(OWNER, stem_request(upload_stem("drums"), stem))
    assert refused.value.code == code and refused.value.message.startswith("Stem 'bass': ")
    assert list(api.storage.objects) == ["uploads/key_other/u/bass.wav"] and api.tasks.items == {}


def test_options_that_cannot_run_a_stems_family_are_refused_naming_the_stem() -> None:
    api = Api(settings=ROOMY)
    with pytest.raises(InvalidRequestError) as refused:
        api.submissions.submit_audio_to_midi(
            OWNER, stem_request(upload_stem("drums"), upload_stem("low", instrument="bass"), basic_pitch_compat=True))
    assert refused.value.message.startswith("Stem 'low' (bass): ") and "basic_pitch_compat" in refused.value.message
    # A family the stem's name chose (not one the caller gave it): the advice is what to give that stem.
    with pytest.raises(InvalidRequestError) as refused:
        api.submissions.submit_audio_to_midi(
            OWNER, stem_request(upload_stem("drums"), upload_stem("bass"), basic_pitch_compat=True))
    message = refused.value.message
    assert message.startswith("Stem 'bass' is transcribed as bass (from its name")
    assert '"instrument": "auto"' in message and "stem.bass.instrument=auto" in message
    # ... and doing so is accepted.
    api.submissions.submit_audio_to_midi(
        OWNER, stem_request(upload_stem("drums"), upload_stem("bass", instrument="auto"), basic_pitch_compat=True))


def test_a_score_of_drum_stems_alone_is_refused_at_submit_and_one_with_a_pitched_stem_is_not() -> None:
    api = Api(settings=ROOMY)
    with pytest.raises(InvalidRequestError) as refused:
        api.submissions.submit_audio_to_midi(OWNER, stem_request(upload_stem("drums"),
                                                                 upload_stem("kit", instrument="drums"), score=True))
    assert "every stem is drums" in refused.value.message and "leave score off" in refused.value.message
    api.submissions.submit_audio_to_midi(OWNER, stem_request(upload_stem("drums"), upload_stem("bass"), score=True))


# 66 MB of scratch, of which the outputs of 10 s of audio keep 64 MB + 0.84 MB: 1.16 MB for the audio.
SMALL_SCRATCH = Settings(bucket="bucket", max_upload_mb=2, retention_days=1, max_duration_s=10, worker_scratch_mb=66)


def stored_wav(api: Api, name: str, megabytes: float) -> str:
    """An upload of ``megabytes`` (a WAV of 2 s, padded) under the caller's prefix; its key."""
    key = f"uploads/{OWNER}/u/{name}.wav"
    header = wav_header(22050, 1, 2)
    api.storage.put_bytes(key, header + bytes(int(megabytes * 1024 * 1024) - len(header)))
    return key


def test_stems_that_would_not_fit_in_the_workers_scratch_space_are_refused_before_anything_is_stored() -> None:
    api = Api(settings=SMALL_SCRATCH)
    keys = [stored_wav(api, name, 0.5) for name in ("drums", "bass", "keys")]
    stems = [StemInput(name, AudioInput(key=key)) for name, key in zip(("drums", "bass", "keys"), keys, strict=True)]
    with pytest.raises(TooLargeError) as refused:
        api.submissions.submit_audio_to_midi(OWNER, stem_request(*stems, upload_stem("lead")))
    message = refused.value.message
    assert refused.value.code == "FILE_TOO_LARGE"
    assert message.startswith(
        "The 4 stems add up to 1.5 MB, more than fits in the worker's scratch space: of its 66 MB,")
    assert "65 MB are kept for the outputs, which leaves 1.2 MB for the audio" in message
    assert "WorkerScratchMB (now 66; at most 10240)" in message
    assert sorted(api.storage.objects) == sorted(keys) and api.tasks.items == {} and api.queue.sent == []
    # Two of them fit.
    queued = api.submissions.submit_audio_to_midi(OWNER, stem_request(*stems[:2]))
    assert [stem.name for stem in api.tasks.get(queued.task.task_id).source.stems] == ["drums", "bass"]


def test_one_input_that_would_not_fit_in_the_workers_scratch_space_is_refused() -> None:
    api = Api(settings=SMALL_SCRATCH)
    with pytest.raises(TooLargeError) as refused:
        api.submit(AudioInput(key=stored_wav(api, "long", 1.5)))
    assert refused.value.code == "FILE_TOO_LARGE" and refused.value.message.startswith("The audio is 1.5 MB, more than")
    assert api.tasks.items == {}
    assert api.submit(AudioInput(key=stored_wav(api, "short", 1.0))).status is TaskStatus.IN_QUEUE


def test_an_uploaded_objects_header_is_read_from_its_start_only() -> None:
    api = Api(settings=ROOMY)
    api.storage.put_bytes(f"uploads/{OWNER}/u/long.wav", wav_header(44100, 2, 900))
    with pytest.raises(TooLargeError) as refused:
        api.submit(AudioInput(key=f"uploads/{OWNER}/u/long.wav"))
    assert refused.value.code == "AUDIO_TOO_LONG" and "long.wav is 15.0 minutes long" in refused.value.message


@pytest.mark.parametrize(("options", "refused"), [({"model": "piano"}, True), ({"instrument": "piano"}, True),
                                                ({"instrument": "piano", "model": "general"}, False), ({}, False)])
def test_the_piano_model_has_its_own_duration_limit_at_submit(options, refused) -> None:
    api = Api(settings=Settings(bucket="bucket", max_upload_mb=1, retention_days=1, max_duration_s=3600,
                                max_piano_duration_s=300))
    request = AudioToMidiRequest(audio=AudioInput(file=UploadedFile("take.wav", "audio/wav", wav_header(22050, 1, 400))),
                                 options=options)
    if not refused:
        assert api.submissions.submit_audio_to_midi(OWNER, request).task.options == options
        return
    with pytest.raises(TooLargeError) as refusal:
        api.submissions.submit_audio_to_midi(OWNER, request)
    message = refusal.value.message
    assert refusal.value.code == "AUDIO_TOO_LONG" and "take.wav is 6.7 minutes long; the maximum is 5.0 minutes" in message
    assert "MaxPianoDurationSeconds" in message and "model=general takes up to 3600 s" in message
    assert api.storage.objects == {} and api.tasks.items == {}


def test_audio_too_long_for_either_model_is_not_sent_to_the_general_model() -> None:
    api = Api(settings=Settings(bucket="bucket", max_upload_mb=1, retention_days=1, max_duration_s=300,
                                max_piano_duration_s=100))
    request = AudioToMidiRequest(audio=AudioInput(file=UploadedFile("take.wav", "audio/wav", wav_header(22050, 1, 400))),
                                 options={"model": "piano"})
    with pytest.raises(TooLargeError) as refusal:
        api.submissions.submit_audio_to_midi(OWNER, request)
    assert "take.wav is 6.7 minutes long" in refusal.value.message and "model=general" not in refusal.value.message
    with pytest.raises(TooLargeError) as refusal:
        api.submissions.submit_audio_to_midi(OWNER, stem_request(upload_stem("piano", seconds=400)))
    assert "another instrument" not in refusal.value.message


@pytest.mark.parametrize("options", [{}, {"model": "general"}])
def test_a_piano_stem_over_the_piano_limit_is_told_to_take_another_instrument(options) -> None:
    """A piano stem runs the piano model whatever the request's model says, so model=general is no way out."""
    api = Api(settings=Settings(bucket="bucket", max_upload_mb=1, retention_days=1, max_duration_s=3600,
                                max_piano_duration_s=300))
    with pytest.raises(TooLargeError) as refusal:
        api.submissions.submit_audio_to_midi(OWNER, stem_request(upload_stem("piano", seconds=400), **options))
    message = refusal.value.message
    assert refusal.value.code == "AUDIO_TOO_LONG" and message.startswith("Stem 'piano': ")
    assert "MaxPianoDurationSeconds" in message and "model=general" not in message
    assert "give the piano stem another instrument (electric_piano, say)" in message and "3600 s" in message


def test_every_stem_of_a_task_with_a_piano_stem_is_held_to_the_piano_limit_at_submit() -> None:
    """The worker bounds all the stems by the strictest limit of what runs; submit says so at once, not
    after queueing a task that can only fail."""
    api = Api(settings=Settings(bucket="bucket", max_upload_mb=1, retention_days=1, max_duration_s=3600,
                                max_piano_duration_s=300))
    with pytest.raises(TooLargeError) as refusal:
        api.submissions.submit_audio_to_midi(OWNER, stem_request(upload_stem("piano", seconds=10),
                                                                 upload_stem("bass", seconds=400)))
    assert refusal.value.code == "AUDIO_TOO_LONG" and refusal.value.message.startswith("Stem 'bass': ")
    assert "give the piano stem another instrument" in refusal.value.message
    assert api.storage.objects == {} and api.tasks.items == {}
    queued = api.submissions.submit_audio_to_midi(OWNER, stem_request(upload_stem("keys", seconds=10),
                                                                      upload_stem("bass", seconds=400)))
    assert queued.task.source.kind == "stems"  # no piano stem: the general model's limit


def test_drums_sampled_below_32_khz_are_queued_with_a_warning_saying_what_to_send() -> None:
    api = Api(settings=ROOMY)

    def warnings(request: AudioToMidiRequest) -> tuple[str, ...]:
        return api.submissions.submit_audio_to_midi(OWNER, request).warnings

    def single(rate: int, instrument: str) -> AudioToMidiRequest:
        upload = UploadedFile("beat.wav", "audio/wav", wav_header(rate, 2, 10))
        return AudioToMidiRequest(audio=AudioInput(file=upload), options={"instrument": instrument})

    (warning,) = warnings(single(22050, "drums"))
    assert "22050 Hz" in warning and "44.1 kHz or more" in warning
    assert warnings(single(44100, "drums")) == () and warnings(single(22050, "guitar")) == ()
    # A stem: the warning names it; the pitched stems at the same rate get none.
    (warning,) = warnings(stem_request(upload_stem("kit", instrument="drums"), upload_stem("bass")))
    assert warning.startswith("Stem 'kit': The drums are sampled at 22050 Hz")


def test_the_eta_follows_the_declared_duration() -> None:
    api = Api(settings=ROOMY)
    short = api.submissions.submit_audio_to_midi(OWNER, AudioToMidiRequest(
        audio=AudioInput(file=UploadedFile("a.wav", "audio/wav", wav_header(22050, 1, 2))), options={}))
    long = api.submissions.submit_audio_to_midi(OWNER, AudioToMidiRequest(
        audio=AudioInput(file=UploadedFile("b.wav", "audio/wav", wav_header(22050, 1, 590))), options={}))
    assert short.eta_seconds < long.eta_seconds


def test_the_eta_follows_the_model_that_runs() -> None:
    """The piano model takes about 0.7 s per second of audio (the general model's guess is 20x real time):
    a 5-minute piano recording is not promised in 25 s."""
    api = Api(settings=ROOMY)

    def eta(options: dict, *stems: StemInput) -> int:
        if stems:
            return api.submissions.submit_audio_to_midi(OWNER, stem_request(*stems, **options)).eta_seconds
        return api.submissions.submit_audio_to_midi(OWNER, AudioToMidiRequest(
            audio=AudioInput(file=UploadedFile("a.wav", "audio/wav", wav_header(22050, 1, 300))), options=options)
        ).eta_seconds

    assert eta({}) < 60
    assert eta({"model": "piano"}) >= 300 and eta({"instrument": "piano"}) >= 300
    assert eta({}, upload_stem("keys", 300, instrument="piano"), upload_stem("bass", 10)) >= 300
    assert eta({}, upload_stem("keys", 300), upload_stem("bass", 10)) < 60


@pytest.mark.parametrize(
    ("spec", "refused"),
    [(ConvertSpec("wav", 192_000, 32), True), (ConvertSpec("wav", None, 16), False), (ConvertSpec("mp3", 48000), False)],
)
def test_a_conversion_whose_output_would_pass_the_bound_is_refused_at_submit(spec, refused) -> None:
    api = Api(settings=Settings(bucket="bucket", max_upload_mb=1, retention_days=1, max_duration_s=3600))
    request = FileConvertRequest(audio=AudioInput(file=UploadedFile("hour.wav", "audio/wav",
                                                                    wav_header(48000, 2, 3600))), convert=spec)
    if not refused:
        api.submissions.submit_file_convert(OWNER, request)
        return
    with pytest.raises(TooLargeError) as caught:
        api.submissions.submit_file_convert(OWNER, request)
    assert caught.value.code == "OUTPUT_TOO_LARGE"
    assert "about 5273 MB" in caught.value.message and "at most 1536 MB" in caught.value.message


def test_a_task_that_cannot_be_queued_ends_failed() -> None:
    api = Api(broken_queue=True)
    with pytest.raises(ConnectionError):
        api.submit(AudioInput(url="https://public.example/a.wav"))
    [task] = [api.tasks.get(task_id) for task_id in api.tasks.items]
    assert task.status is TaskStatus.FAILED and task.error_code == "QUEUE_UNAVAILABLE"


def test_midi_generation_needs_an_audio_task_of_the_caller_that_did_not_fail() -> None:
    api = Api()
    source = api.submit(AudioInput(url="https://public.example/a.wav"))
    generated = api.submissions.submit_midi_generate(OWNER, MidiGenerateRequest(source.task_id, "https://public.example/cb"))
    assert generated.task.source.task_id == source.task_id and generated.task.kind is TaskKind.MIDI_GENERATE
    with pytest.raises(NotFoundError):
        api.submissions.submit_midi_generate("key_other", MidiGenerateRequest(source.task_id, "https://public.example/cb"))
    with pytest.raises(InvalidRequestError) as refused:
        api.submissions.submit_midi_generate(OWNER, MidiGenerateRequest(source.task_id, "https://internal.example/cb"))
    assert refused.value.message.startswith("callBackUrl is refused")
    api.tasks.fail(source.task_id, error="not audio", error_code="NOT_AUDIO", status_msg="Audio to Midi Failed")
    with pytest.raises(UnprocessableError) as failed:
        api.submissions.submit_midi_generate(OWNER, MidiGenerateRequest(source.task_id, "https://public.example/cb"))
    assert failed.value.code == "SOURCE_TASK_FAILED" and "not audio" in failed.value.message


def test_midi_generation_of_a_midi_generation_is_refused_naming_the_audio_task() -> None:
    # A generation's source is a task, not audio: a generation of it that ran before it finished failed
    # with "The task's input ('task') cannot be read." instead of being refused at submit.
    api = Api()
    source = api.submit(AudioInput(url="https://public.example/a.wav"))
    generated = api.submissions.submit_midi_generate(OWNER, MidiGenerateRequest(source.task_id, "https://public.example/cb"))
    with pytest.raises(InvalidRequestError) as refused:
        api.submissions.submit_midi_generate(OWNER, MidiGenerateRequest(generated.task.task_id,
                                                                        "https://public.example/cb"))
    assert refused.value.code == "INVALID_SOURCE_TASK"
    assert "audio_to_midi" in refused.value.message and source.task_id in refused.value.message


def test_lookups_answer_only_the_owner_and_link_only_what_exists() -> None:
    api = Api()
    task = api.submit(AudioInput(url="https://public.example/a.wav"))
    assert api.lookup.find_task(OWNER, conversion_id=task.conversion_id).task_id == task.task_id
    for owner, kind in (("key_other", None), (OWNER, TaskKind.FILE_CONVERT)):
        with pytest.raises(NotFoundError):
            api.lookup.find_task(owner, task_id=task.task_id, kind=kind)
    with pytest.raises(InvalidRequestError):
        api.lookup.find_task(OWNER)
    api.tasks.claim(task.task_id)
    done = api.tasks.complete(task.task_id, outputs={"midi": "results/t/a.mid"}, status_msg="done")
    assert list(api.lookup.links(done)) == ["midi"]


def finished(tasks: FakeTasks, **fields) -> Task:
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=OWNER, retention_days=1,
                    source=TaskSource(kind="s3", key="uploads/x/a.wav"), **fields)
    tasks.create(task)
    tasks.claim(task.task_id)
    return tasks.complete(task.task_id, outputs={"midi": "results/x/a.mid"}, status_msg="done")


def test_redelivery_starts_a_new_series_with_the_same_event_for_the_owner_only() -> None:
    tasks, queue = FakeTasks(), FakeQueue()
    redelivery = WebhookRedelivery(tasks=tasks, notify_queue=queue)
    task = finished(tasks, webhook_url="https://public.example/hook")
    with pytest.raises(NotFoundError):
        redelivery.redeliver(task.task_id, owner_id="key_other")
    done = redelivery.redeliver(task.task_id, owner_id=OWNER)
    assert done.event == "task.completed" and done.webhook_id.startswith("msg_")
    [message] = queue.sent
    assert message["webhook_id"] == done.webhook_id and message["attempt"] == 1 and message["series"]
    again = redelivery.redeliver(task.task_id, owner_id=OWNER)
    assert again.webhook_id == done.webhook_id and queue.sent[1]["series"] != message["series"]


def test_redelivery_is_refused_without_a_webhook_before_the_end_and_once_the_attempt_log_is_full() -> None:
    tasks, queue = FakeTasks(), FakeQueue()
    redelivery = WebhookRedelivery(tasks=tasks, notify_queue=queue)
    without = finished(tasks)
    with pytest.raises(ConflictError) as refused:
        redelivery.redeliver(without.task_id, owner_id=OWNER)
    assert refused.value.code == "WEBHOOK_NOT_CONFIGURED"
    running = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=OWNER, retention_days=1, webhook_url="https://e.com/h",
                       source=TaskSource(kind="s3", key="k"))
    tasks.create(running)
    with pytest.raises(ConflictError) as refused:
        redelivery.redeliver(running.task_id, owner_id=OWNER)
    assert refused.value.code == "TASK_NOT_FINISHED"
    full = finished(tasks, webhook_url="https://public.example/hook")
    tasks.items[full.task_id]["webhook_attempts"] = [{"status_code": 500}] * MAX_RECORDED_ATTEMPTS
    with pytest.raises(ConflictError, match="GET /v1/byId") as refused:
        redelivery.redeliver(full.task_id, owner_id=OWNER)
    assert refused.value.code == "WEBHOOK_REDELIVERY_LIMIT" and queue.sent == []
    tasks.items[full.task_id]["webhook_attempts"] = tasks.items[full.task_id]["webhook_attempts"][:-1]
    assert redelivery.redeliver(full.task_id, owner_id=OWNER).event == "task.completed"
    assert len(queue.sent) == 1


def test_a_signed_link_leads_to_a_short_lived_url_of_that_file_only() -> None:
    tasks, storage = FakeTasks(), FakeStorage()
    keys = FakeKeys({OWNER: FakeKey(OWNER, "whsec_" + "A" * 44)})
    links = ResultLinks(tasks=tasks, keys=keys, storage=storage, clock=lambda: 1_800_000_000.0)
    task = finished(tasks)
    link = FileLink(task_id=task.task_id, name="midi", expires=1_900_000_000)
    signature = sign(keys.keys[OWNER].webhook_secret, link)
    assert links.location(task.task_id, "midi", expires=str(link.expires), signature=signature).endswith(
        "results/x/a.mid?expires=300")
    with pytest.raises(AccessDeniedError) as refused:
        links.location(task.task_id, "wav", expires=str(link.expires), signature=signature)
    assert refused.value.code == "INVALID_SIGNATURE"
    wav = FileLink(task_id=task.task_id, name="wav", expires=link.expires)
    with pytest.raises(NotFoundError) as missing:
        links.location(task.task_id, "wav", expires=str(wav.expires), signature=sign(keys.keys[OWNER].webhook_secret, wav))
    assert missing.value.code == "FILE_NOT_FOUND" and "midi" in missing.value.message


def test_more_channels_than_mp3_holds_are_refused_at_submit_when_the_header_says_so() -> None:
    api = Api(settings=ROOMY)

    def convert(channels: int, target: str) -> None:
        api.submissions.submit_file_convert(OWNER, FileConvertRequest(
            audio=AudioInput(file=UploadedFile("surround.wav", "audio/wav", wav_header(48000, channels, 10))),
            convert=ConvertSpec(target)))

    with pytest.raises(InvalidRequestError) as refused:
        convert(6, "mp3")
    assert refused.value.code == "UNSUPPORTED_CONVERSION"
    assert refused.value.message == ("mp3 cannot hold surround.wav's 6 channels: mp3 holds at most 2 channels: "
                                     "choose wav, flac, aiff or ogg.")
    convert(6, "flac")
    convert(2, "mp3")


def test_a_sample_rate_mp3_cannot_hold_is_refused_at_submit_when_the_header_says_so() -> None:
    """A 96 kHz WAV to mp3 without target_sr was queued, then failed in the worker."""
    api = Api(settings=ROOMY)

    def convert(rate: int, spec: ConvertSpec) -> None:
        api.submissions.submit_file_convert(OWNER, FileConvertRequest(
            audio=AudioInput(file=UploadedFile("hires.wav", "audio/wav", wav_header(rate, 2, 10))), convert=spec))

    with pytest.raises(InvalidRequestError) as refused:
        convert(96000, ConvertSpec("mp3"))
    assert refused.value.code == "UNSUPPORTED_CONVERSION"
    assert refused.value.message.startswith("mp3 cannot hold hires.wav's 96000 Hz: mp3 holds only 8000, ")
    assert "give target_sr" in refused.value.message
    convert(96000, ConvertSpec("mp3", 48000))
    convert(96000, ConvertSpec("ogg"))
    convert(48000, ConvertSpec("mp3"))
