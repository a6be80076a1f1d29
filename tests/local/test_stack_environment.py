"""The environment the local stack gives the handlers: the template's, opened up for loopback use."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from midiscribe.local.stack import LocalStack, StackOptions, find_repository_root

FUNCTIONS = ("SubmitFunction", "AuthorizerFunction", "TranscribeFunction", "NotifyFunction")


def seen_environment(event, context):
    names = ("MIDISCRIBE_ALLOW_PRIVATE_URLS", "MIDISCRIBE_ALLOW_HTTP_URLS", "MIDISCRIBE_STAGE",
             "MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE", "AWS_ENDPOINT_URL", "MIDISCRIBE_BUCKET", "MIDISCRIBE_PUBLIC_API_URL")
    return {"statusCode": 200, "body": json.dumps({name: os.environ.get(name) for name in names})}


def start_stack(tmp_path, key):
    # Stand-ins for the real handlers: this test is about what surrounds them.
    handlers = {name: seen_environment for name in FUNCTIONS}
    stack = LocalStack(StackOptions(root=find_repository_root(), port=0, workers=1, api_key=key,
                                    data_dir=tmp_path), handlers=handlers)
    return stack, stack.start()


def health_environment(running):
    with urllib.request.urlopen(f"{running.api_url}/health", timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.parametrize(("exported", "expected"), [(None, "true"), ("false", "false"), ("0", "false")])
def test_private_urls_are_allowed_locally_unless_the_user_says_otherwise(tmp_path, monkeypatch, exported, expected):
    if exported is None:
        monkeypatch.delenv("MIDISCRIBE_ALLOW_PRIVATE_URLS", raising=False)
    else:
        monkeypatch.setenv("MIDISCRIBE_ALLOW_PRIVATE_URLS", exported)
    monkeypatch.setenv("MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE", "0,1")
    monkeypatch.setenv("MIDISCRIBE_BUCKET", "somebody-elses-bucket")
    monkeypatch.setenv("MIDISCRIBE_PUBLIC_API_URL", "https://deployed.example/prod")
    stack, running = start_stack(tmp_path, "msk_environment_test_key")
    try:
        seen = health_environment(running)
    finally:
        stack.stop()
    assert seen["MIDISCRIBE_ALLOW_PRIVATE_URLS"] == expected
    assert seen["MIDISCRIBE_ALLOW_HTTP_URLS"] == "true" and seen["MIDISCRIBE_STAGE"] == "local"
    assert seen["MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE"] == "0,1"  # user settings win…
    assert seen["MIDISCRIBE_BUCKET"] == running.bucket != "somebody-elses-bucket"  # …but not resource names
    assert seen["AWS_ENDPOINT_URL"] == running.aws_endpoint_url.rstrip("/")
    # Webhook links lead to this stack's own API, whatever the shell says.
    assert seen["MIDISCRIBE_PUBLIC_API_URL"] == running.api_url
    # Stopping gives the process its environment back.
    assert os.environ.get("MIDISCRIBE_BUCKET") == "somebody-elses-bucket"
    assert os.environ.get("AWS_ENDPOINT_URL") is None


def test_a_generated_dev_key_is_kept_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("MIDISCRIBE_DEV_API_KEY", raising=False)
    stack = LocalStack(StackOptions(root=find_repository_root(), port=0, workers=1, data_dir=tmp_path),
                       handlers={name: seen_environment for name in FUNCTIONS})
    running = stack.start()
    stack.stop()
    assert running.api_key.startswith("msk_")
    saved = json.loads((tmp_path / "dev-key.json").read_text())
    assert saved == {"api_key": running.api_key, "webhook_secret": running.webhook_secret}
    assert (tmp_path / "state" / "manifest.json").is_file()


def test_banner_names_the_command_as_the_user_can_run_it(tmp_path, monkeypatch):
    from midiscribe.cli import serve

    script = tmp_path / ".venv" / "bin" / "midiscribe"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", [str(script), "serve"])
    monkeypatch.setenv("PATH", "/nonexistent")
    banner = serve.usage_banner("http://127.0.0.1:3000", "msk_x", "whsec_y", "bucket", "http://127.0.0.1:1", None)
    assert "MIDISCRIBE_API_KEY=msk_x .venv/bin/midiscribe submit song.wav" in banner
    assert "MIDISCRIBE_API_URL" not in banner      # submit's default is this address

    # On another port the example must say where the API is, or `submit` tries port 3000.
    banner = serve.usage_banner("http://127.0.0.1:8080", "msk_x", "whsec_y", "bucket", "http://127.0.0.1:1", None)
    assert ("  MIDISCRIBE_API_URL=http://127.0.0.1:8080 MIDISCRIBE_API_KEY=msk_x .venv/bin/midiscribe submit song.wav"
            in banner)

    monkeypatch.setenv("PATH", str(script.parent))
    assert serve.cli_command() == "midiscribe"


def test_banner_inbox_example_runs_without_aws_configuration():
    """The printed `aws s3 cp` example failed with "Unable to locate credentials" on a machine with no AWS
    set-up, which is all the README asks for: it must bring the placeholder credentials moto accepts."""
    import shlex

    from midiscribe.cli import serve

    banner = serve.usage_banner("http://127.0.0.1:3000", "msk_x", "whsec_y", "bucket", "http://127.0.0.1:1", None)
    example = next(line for line in banner.splitlines() if " aws s3 cp " in line)
    words = shlex.split(example)
    command_at = words.index("aws")
    assignments = dict(word.split("=", 1) for word in words[:command_at])
    assert assignments["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert assignments["AWS_ACCESS_KEY_ID"] and assignments["AWS_SECRET_ACCESS_KEY"]
    assert words[command_at:] == ["aws", "s3", "cp", "song.wav", "s3://bucket/inbox/"]


def serve_args(argv: list[str]):
    import argparse

    from midiscribe.cli import serve

    parser = argparse.ArgumentParser(prog="midiscribe")
    serve.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["serve", *argv])


@pytest.mark.parametrize("flag", ["--port", "--aws-port"])
@pytest.mark.parametrize("value", ["99999", "-1", "http"])
def test_a_port_that_cannot_be_bound_is_refused_by_the_command_line(flag, value, capsys):
    """--port 99999 reached socket.bind and ended in an OverflowError traceback."""
    with pytest.raises(SystemExit) as exit_info:
        serve_args([flag, value])
    assert exit_info.value.code == 2
    assert f"argument {flag}:" in capsys.readouterr().err



@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_a_shutdown_grace_that_is_no_time_is_refused_by_the_command_line(value, capsys):
    """--shutdown-grace -1 and nan were taken as 0 without a word."""
    with pytest.raises(SystemExit) as exit_info:
        serve_args(["--shutdown-grace", value])
    assert exit_info.value.code == 2
    assert "argument --shutdown-grace:" in capsys.readouterr().err
    assert serve_args(["--shutdown-grace", "2.5"]).shutdown_grace == 2.5


def test_serve_help_states_the_shutdown_grace_default(capsys):
    """The README's table gives --shutdown-grace a default of 10 s; `serve --help` did not say so."""
    with pytest.raises(SystemExit):
        serve_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    options = help_text[help_text.index("options:"):]
    grace = options[options.index("--shutdown-grace SECONDS"):options.index("--log-level {")]
    assert "default: 10)" in grace
    assert serve_args([]).shutdown_grace == 10.0


def test_a_data_dir_that_is_a_file_is_refused_before_the_stack_starts(tmp_path, capsys, monkeypatch):
    """--data-dir naming a file ended in a FileExistsError traceback, after a try at saving state into it."""
    from midiscribe.local import stack

    def must_not_start(*args, **kwargs):
        raise AssertionError("the stack was started")
    monkeypatch.setattr(stack, "LocalStack", must_not_start)
    file = tmp_path / "notes.txt"
    file.write_text("keep me")
    args = serve_args(["--data-dir", str(file), "--port", "0"])
    assert args.run(args) == 2
    assert f"--data-dir {file} exists and is not a folder" in capsys.readouterr().err
    assert file.read_text() == "keep me"


def test_a_data_dir_remembers_its_aws_port_while_the_port_is_free(tmp_path):
    import socket

    from midiscribe.local.stack import AWS_PORT_FILE, remembered_aws_port

    assert remembered_aws_port(tmp_path) == 0  # nothing kept yet: any free port
    for garbage in ("", "port", "0", "70000"):
        (tmp_path / AWS_PORT_FILE).write_text(garbage)
        assert remembered_aws_port(tmp_path) == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / AWS_PORT_FILE).write_text(f"{port}\n")
        assert remembered_aws_port(tmp_path) == 0  # in use: a free one, with a warning
    assert remembered_aws_port(tmp_path) == port  # free again: the links handed out on it work again
