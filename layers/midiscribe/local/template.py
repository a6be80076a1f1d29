"""template.yaml as the local stack reads it: parsed with its intrinsic tags, and the references in it.

Tests (in-process ``mock_aws``) and the local stack (moto in server mode) build their AWS resources
from the template's own definitions (``resources``), evaluating its intrinsic functions with one
evaluator (``intrinsics``); the local API Gateway (``api_spec``) and the function loader
(``functions``) read their parts of it here too.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "midiscribe-local"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TEMPLATE = REPOSITORY_ROOT / "template.yaml"

CREATED_TYPES = ("AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "AWS::DynamoDB::Table", "AWS::S3::Bucket")
# Not created here, but functions may be told about them (the API's URL): ``!Ref`` gives a stand-in id.
# Whoever serves the API locally (the local stack) sets the variables built from it to its own address.
STAND_IN_TYPES = ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi")


class TemplateError(ValueError):
    """The template cannot be read or evaluated here; the message says what and where."""


def load_template(path: str | Path | None = None) -> dict:
    """Parse a SAM/CloudFormation YAML template; intrinsic tags become their JSON forms.

    Each call returns a fresh copy; the parse itself is cached per file version, since every
    test that builds the stack reads the same template.
    """
    path = Path(path) if path else DEFAULT_TEMPLATE
    try:
        version = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise TemplateError(
            f"{path} does not exist: run from a checkout of the repository, or pass the template's path"
        ) from None
    return copy.deepcopy(_parse_template(str(path), version))


@functools.lru_cache(maxsize=8)
def _parse_template(path: str, version: int) -> dict:
    import yaml

    class TemplateLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    def construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict:
        name = "Ref" if tag_suffix == "Ref" else ("Condition" if tag_suffix == "Condition" else f"Fn::{tag_suffix}")
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    TemplateLoader.add_multi_constructor("!", construct_intrinsic)
    try:
        # TemplateLoader is a SafeLoader with constructors for the intrinsic tags only.
        template = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=TemplateLoader)  # noqa: S506  # nosec B506
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section; is it the SAM template?")
    return template


def references(value: Any) -> set[str]:
    """Logical ids a value refers to (``Ref``, ``GetAtt`` and ``${…}`` in ``Sub``)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item.split(".")[0])
            elif key == "Fn::GetAtt":
                found.add(str(item[0] if isinstance(item, list) else str(item).split(".")[0]))
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!][^}]*)\}", str(text))}
                if isinstance(item, list):
                    found |= references(item[1])
            else:
                found |= references(item)
    return found


def logical_id_of(reference: Any) -> str | None:
    """The resource a ``!Ref X`` / ``!GetAtt X.Arn`` / ``!Sub ${X.Arn}`` points at, if it names one."""
    found = {name for name in references(reference) if not name.startswith("AWS::")} if isinstance(reference, dict) else set()
    return found.pop() if len(found) == 1 else None
