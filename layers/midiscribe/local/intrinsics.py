"""The template's intrinsic functions (``!Ref``, ``!Sub``, ``!GetAtt``, ``!If``, ``!Select``…), evaluated.

The local stack's one CloudFormation evaluator: against the parameter defaults (or overrides), a
stack name, account ``123456789012``, a region, and the resources created so far.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .template import (
    ACCOUNT_ID,
    CREATED_TYPES,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    PARTITION,
    STAND_IN_TYPES,
    URL_SUFFIX,
    TemplateError,
)


class _NoValue:
    """``AWS::NoValue``: the property it is the value of disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


@dataclass
class Created:
    """A created resource as intrinsics see it: what ``Ref`` returns, and its ``GetAtt`` attributes."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


class TemplateEvaluator:
    """Evaluates intrinsic functions against parameters, pseudo parameters and created resources."""

    def __init__(
        self,
        template: dict,
        *,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = DEFAULT_REGION,
        account_id: str = ACCOUNT_ID,
        parameters: Mapping[str, Any] | None = None,
    ):
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        # A stable id per stack name, so a restarted local stack finds the same bucket again.
        stack_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"midiscribe-local-stack/{account_id}/{region}/{stack_name}")
        self.pseudo = {
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{region}:{account_id}:stack/{stack_name}/{stack_uuid}",
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::NotificationARNs": [],
        }
        self.parameters = self._parameter_values(parameters or {})
        self.created: dict[str, Created] = {}
        self._conditions: dict[str, bool] = {}

    def _parameter_values(self, overrides: Mapping[str, Any]) -> dict[str, str]:
        declared = self.template.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(
                f"unknown template parameter(s) {', '.join(unknown)}; the template declares: {', '.join(declared)}"
            )
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in overrides:
                value = overrides[name]
                value = ("true" if value else "false") if isinstance(value, bool) else str(value)
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                raise TemplateError(f"template parameter {name} has no default: pass a value for it")
            allowed = spec.get("AllowedValues")
            if allowed is not None and value not in [str(option) for option in allowed]:
                raise TemplateError(
                    f"template parameter {name}={value!r} is not one of {', '.join(map(str, allowed))}"
                )
            values[name] = value
        return values

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definitions = self.template.get("Conditions") or {}
            if name not in definitions:
                raise TemplateError(f"condition {name} is used but not declared under Conditions")
            self._conditions[name] = bool(self.resolve(definitions[name]))
        return self._conditions[name]

    def resource_enabled(self, logical_id: str) -> bool:
        condition = self.template["Resources"][logical_id].get("Condition")
        return True if condition is None else self.condition(condition)

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.created:
            return self.created[name].ref
        resource = (self.template.get("Resources") or {}).get(name)
        if isinstance(resource, dict) and resource.get("Type") in STAND_IN_TYPES:
            return self.stand_in_id(name)
        if resource is not None:
            raise TemplateError(
                f"!Ref {name}: {name} is not one of the resources created locally "
                f"({', '.join(CREATED_TYPES)}) or not created yet"
            )
        raise TemplateError(f"!Ref {name}: no parameter, pseudo parameter or resource has that name")

    def stand_in_id(self, logical_id: str) -> str:
        """A REST API id (10 lowercase letters and digits, as API Gateway's) stable per stack and resource."""
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{self.pseudo['AWS::StackId']}/{logical_id}").hex[:10]

    def _get_att(self, logical_id: str, attribute: str) -> str:
        created = self.created.get(logical_id)
        if created is None:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: {logical_id} is not created locally")
        if attribute not in created.attributes:
            raise TemplateError(
                f"!GetAtt {logical_id}.{attribute}: known attributes are {', '.join(created.attributes)}"
            )
        return created.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {key: self.resolve(value) for key, value in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function evaluated; ``AWS::NoValue`` entries removed."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, argument), = value.items()
            if name == "Ref":
                return self._ref(str(argument))
            if name == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if name.startswith("Fn::"):
                return self._function(name, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return self._get_att(str(parts[0]), str(self.resolve(parts[1])))
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in self.resolve(items))
        if name == "Fn::Select":
            index, items = argument
            items = self.resolve(items)
            return items[int(self.resolve(index))]
        if name == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(str(separator))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.resolve(argument[0])
        if name == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if name == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        if name == "Fn::FindInMap":
            mapping, top, second = (self.resolve(item) for item in argument[:3])
            try:
                return self.template["Mappings"][mapping][top][second]
            except KeyError:
                raise TemplateError(f"!FindInMap [{mapping}, {top}, {second}] finds nothing") from None
        if name == "Fn::Base64":
            import base64

            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        raise TemplateError(f"{name} is not supported by the local resource builder")
