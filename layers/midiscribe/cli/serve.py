"""``midiscribe serve``: the whole API on this machine (what ``make run`` starts). No Docker, no AWS."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import signal
import sys
import warnings
from pathlib import Path

from .transcribe import bounded_float_checks

DATA_DIR_HELP = (
    "keep the bucket, tables and queues in DIR across restarts: saved when the stack stops "
    "(Ctrl-C) and loaded when it starts. Without it, state lives in memory only. "
    "A crash (kill -9) loses what changed since the last start."
)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535 (got {value})")
    return value


def _default_port() -> int:
    value = os.environ.get("PORT", "3000")
    try:
        return port_number(value)
    except argparse.ArgumentTypeError:
        raise SystemExit(f"PORT={value!r} is not a port number; set PORT=3000 or pass --port 3000") from None


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve the API locally (moto for S3/SQS/DynamoDB, the real handlers)",
        description="Serve the midiscribe API on this machine: moto in server mode stands in for S3, SQS and "
        "DynamoDB (created from template.yaml), a local API Gateway runs the real authorizer and API handler, "
        "and pollers feed the queues to the real worker and webhook handlers. Ctrl-C stops it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=None, help="API port (default: $PORT or 3000)")
    parser.add_argument("--aws-port", type=port_number, default=0, metavar="PORT",
                        help="port of the local S3/SQS/DynamoDB endpoint (moto), which result links point at; "
                             "default: with --data-dir the port it had at the last start (so links handed out "
                             "then stay valid) when that is free, else a free port")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="concurrent invocations per queue, like a function's concurrency "
                             f"(default: CPU count, {os.cpu_count() or 1})")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR", help=DATA_DIR_HELP)
    parser.add_argument("--root", type=Path, default=None,
                        help="repository holding template.yaml and functions/ (default: found from the current directory)")
    parser.add_argument("--shutdown-grace", type=bounded_float_checks(ge=0.0), default=10.0, metavar="SECONDS",
                        help="on Ctrl-C, how long running tasks may finish before they are abandoned "
                             "(abandoned tasks are retried on the next start when --data-dir is used; default: 10)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level of the local stack")
    parser.set_defaults(run=run)


def cli_command() -> str:
    """How to run this command from the user's shell: plain ``midiscribe`` only if it is on PATH."""
    here = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    on_path = shutil.which("midiscribe")
    if here is None or here.name != "midiscribe" or (on_path and Path(on_path).resolve() == here):
        return "midiscribe"
    try:
        return shlex.quote(str(here.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(here))


# moto takes any credentials, but the AWS CLI sends no request without some ("Unable to locate credentials").
MOTO_CREDENTIALS = "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"


def usage_banner(api_url: str, api_key: str, webhook_secret: str, bucket: str, endpoint: str,
                 data_dir: Path | None) -> str:
    from ..client import API_URL_ENV, DEFAULT_API_URL

    key = shlex.quote(api_key)
    command = cli_command()
    # `submit` talks to DEFAULT_API_URL unless told otherwise, so on another port the example says where.
    url_env = "" if api_url == DEFAULT_API_URL else f"{API_URL_ENV}={shlex.quote(api_url)} "
    return f"""
midiscribe is serving on {api_url}   (Swagger UI: {api_url}/swagger)
Open {api_url}/explorer in a browser to transcribe a file and see its piano roll (paste the key below).

  API key         {api_key}
  webhook secret  {webhook_secret}
  bucket          {bucket}
  AWS endpoint    {endpoint}   (moto: S3, SQS, DynamoDB; any credentials)
  state           {f"saved in {data_dir} when stopped" if data_dir else "in memory (use --data-dir DIR to keep it)"}

Transcribe a file with curl:

  curl -X POST {api_url}/v1/audio_to_midi -H "Authorization: {api_key}" -F audio_file=@song.wav
  curl "{api_url}/v1/byId?conversionType=AUDIO_TO_MIDI&task_id=<task_id>" -H "Authorization: {api_key}"

or with the CLI (waits, then downloads the .mid, .wav, .csv and .json into out/):

  {url_env}MIDISCRIBE_API_KEY={key} {command} submit song.wav --wait -o out/

or from Python:

  import requests
  url = "{api_url}/v1/audio_to_midi"
  headers = {{"Authorization": "{api_key}"}}
  payload = {{"sonify_midi": True, "save_note_events": True}}
  with open("song.wav", "rb") as f:
      response = requests.post(url, headers=headers, data=payload, files={{"audio_file": f}})
  print(response.json())

Drop files into s3://{bucket}/inbox/ and they are transcribed with default options, e.g.

  {MOTO_CREDENTIALS} AWS_ENDPOINT_URL={endpoint} aws s3 cp song.wav s3://{bucket}/inbox/

Ctrl-C stops everything.
"""


def run(args: argparse.Namespace) -> int:
    from ..local.server import PortInUseError
    from ..local.stack import LocalStack, StackOptions, find_repository_root
    from ..local.template import TemplateError

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # Metrics are off locally (POWERTOOLS_METRICS_DISABLED), so Powertools' "no metrics" warning is noise.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    # moto's request log and boto3's credential notes would drown the API's own lines.
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(args.log_level)))
    if args.workers < 1:
        print(f"error: --workers must be at least 1 (got {args.workers})", file=sys.stderr)
        return 2
    if args.data_dir is not None and args.data_dir.exists() and not args.data_dir.is_dir():
        # Checked before the stack starts: it failed with a traceback, then tried to save its state there.
        print(f"error: --data-dir {args.data_dir} exists and is not a folder: give a folder (created if missing)",
              file=sys.stderr)
        return 2
    port = args.port if args.port is not None else _default_port()
    try:
        root = (args.root or find_repository_root()).resolve()
        stack = LocalStack(StackOptions(
            root=root, host=args.host, port=port, aws_port=args.aws_port, workers=args.workers,
            data_dir=args.data_dir.resolve() if args.data_dir else None,
            shutdown_grace_s=args.shutdown_grace,
        ))
        running = stack.start()
    except PortInUseError as error:
        print(f"error: {error.strerror}", file=sys.stderr)
        return 1
    except (TemplateError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    signals_seen = []

    def on_signal(signum: int, _frame: object) -> None:
        signals_seen.append(signum)
        if len(signals_seen) == 1:
            print("\nstopping (Ctrl-C again to abandon running tasks at once)…", file=sys.stderr, flush=True)
            stack.request_stop()
        else:
            stack.abandon()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(usage_banner(running.api_url, running.api_key, running.webhook_secret, running.bucket,
                       running.aws_endpoint_url, args.data_dir), flush=True)
    try:
        stack.wait()
        stack.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopped", file=sys.stderr, flush=True)
    return 0
