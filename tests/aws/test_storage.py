"""Storage.download_file in moto: one streamed GET for ordinary inputs, the managed transfer for large ones, the
size limit and a missing object as the domain's errors, and a body cut off mid-stream read again."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from botocore.exceptions import ResponseStreamingError

from midiscribe.aws import storage as storage_module
from midiscribe.aws.storage import Storage
from midiscribe.domain.errors import ObjectNotFoundError, ObjectTooLargeError

DATA = bytes(range(256)) * 4096  # 1 MiB, not one repeated byte: a misplaced chunk shows


class CountingClient:
    """The S3 client, counting the calls the download makes."""

    def __init__(self, client):
        self.client = client
        self.calls: list[str] = []

    def __getattr__(self, name):
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
def store(aws_stack) -> Storage:
    aws_stack.s3.put_object(Bucket=aws_stack.bucket, Key="uploads/song.wav", Body=DATA * 3 + b"tail")
    return Storage(aws_stack.bucket, client=CountingClient(aws_stack.s3))


def test_an_ordinary_input_is_one_get_written_whole(store, tmp_path) -> None:
    path = tmp_path / "input.wav"
    assert store.download_file("uploads/song.wav", path, max_bytes=10 * len(DATA)) == 3 * len(DATA) + 4
    assert path.read_bytes() == DATA * 3 + b"tail"
    assert store.client.calls == ["get_object"]


def test_a_large_input_goes_through_the_managed_transfer(store, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(storage_module, "SINGLE_GET_BYTES", len(DATA))
    path = tmp_path / "input.wav"
    assert store.download_file("uploads/song.wav", path) == 3 * len(DATA) + 4
    assert path.read_bytes() == DATA * 3 + b"tail"
    assert store.client.calls == ["get_object", "download_file"]


def test_an_input_over_the_limit_or_missing_is_the_domains_error(store, tmp_path) -> None:
    with pytest.raises(ObjectTooLargeError) as refused:
        store.download_file("uploads/song.wav", tmp_path / "input.wav", max_bytes=len(DATA))
    assert (refused.value.size, refused.value.limit) == (3 * len(DATA) + 4, len(DATA))
    assert not (tmp_path / "input.wav").exists()
    with pytest.raises(ObjectNotFoundError):
        store.download_file("uploads/gone.wav", tmp_path / "input.wav")


class Body:
    """A GET's body that gives ``data`` and then, if ``cut``, breaks as a dropped connection does."""

    def __init__(self, data: bytes, cut: bool = False):
        self.stream, self.cut, self.closed = io.BytesIO(data), cut, False

    def read(self, size: int) -> bytes:
        chunk = self.stream.read(size)
        if not chunk and self.cut:
            raise ResponseStreamingError(error="connection reset")
        return chunk

    def close(self) -> None:
        self.closed = True


class FlakyClient:
    """get_object answers with bodies cut off mid-stream ``cuts`` times, then whole."""

    meta = SimpleNamespace(method_to_api_mapping={"get_object": "GetObject"})  # what the adapter's wrapper reads

    def __init__(self, cuts: int, announced: int | None = None):
        self.cuts, self.bodies, self.announced = cuts, [], announced

    def get_object(self, Bucket: str, Key: str) -> dict:  # noqa: N803 - boto3's names
        cut = len(self.bodies) < self.cuts
        self.bodies.append(Body(DATA[: len(DATA) // 2] if cut else DATA, cut))
        return {"Body": self.bodies[-1], "ContentLength": self.announced or len(DATA)}


def test_a_body_cut_off_is_read_again_from_the_start(tmp_path) -> None:
    client = FlakyClient(cuts=storage_module.DOWNLOAD_ATTEMPTS - 1)
    path = tmp_path / "input.wav"
    assert Storage("bucket", client=client).download_file("uploads/song.wav", path) == len(DATA)
    assert path.read_bytes() == DATA
    assert len(client.bodies) == storage_module.DOWNLOAD_ATTEMPTS and all(body.closed for body in client.bodies)


def test_a_body_cut_off_every_time_raises_after_the_last_attempt(tmp_path) -> None:
    client = FlakyClient(cuts=storage_module.DOWNLOAD_ATTEMPTS)
    with pytest.raises(ResponseStreamingError):
        Storage("bucket", client=client).download_file("uploads/song.wav", tmp_path / "input.wav")
    assert len(client.bodies) == storage_module.DOWNLOAD_ATTEMPTS


def test_a_body_longer_than_announced_stops_at_the_limit(tmp_path) -> None:
    client = FlakyClient(cuts=0, announced=100)
    with pytest.raises(ObjectTooLargeError):
        Storage("bucket", client=client).download_file("uploads/song.wav", tmp_path / "input.wav", max_bytes=1000)
    assert client.bodies[0].closed


def test_an_upload_form_records_the_files_own_name_and_head_gives_it_back(aws_stack) -> None:
    store = Storage(aws_stack.bucket, client=aws_stack.s3)
    name = "練習 Für Elise\u202e.wav"  # a right-to-left override among the characters, which is not shown
    form = store.presign_post("uploads/k/u/Fur_Elise.wav", max_bytes=100, expires_s=60, content_type="audio/wav",
                              name=name)
    field = form["fields"]["x-amz-meta-name"]
    assert field.isascii() and {"x-amz-meta-name": field} in _policy_conditions(form)
    aws_stack.s3.put_object(Bucket=aws_stack.bucket, Key="uploads/k/u/Fur_Elise.wav", Body=b"RIFF",
                            Metadata={"name": field})
    assert store.head("uploads/k/u/Fur_Elise.wav").name == "練習 Für Elise.wav"
    aws_stack.s3.put_object(Bucket=aws_stack.bucket, Key="uploads/k/u/plain.wav", Body=b"RIFF")
    assert store.head("uploads/k/u/plain.wav").name == ""  # put there some other way: the key's name is used


def test_a_long_name_is_shortened_to_fit_s3s_metadata_limit() -> None:
    encoded = storage_module.encoded_name("練" * 200)
    assert len(encoded) <= storage_module.MAX_NAME_METADATA_BYTES
    assert storage_module.decoded_name(encoded) == "練" * (storage_module.MAX_NAME_METADATA_BYTES // 9)


def _policy_conditions(form: dict) -> list:
    import base64
    import json

    return json.loads(base64.b64decode(form["fields"]["policy"]))["conditions"]
