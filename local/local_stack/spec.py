"""What template.yaml declares to run: functions (Globals merged), HTTP API routes, queues and schedules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack.issuer import JwtAuthorizer
from local_stack.resolver import Resolver, TemplateError
from local_stack.template import resources_of_type

FUNCTION_TYPE = "AWS::Serverless::Function"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
IMPLICIT_HTTP_API = "ServerlessHttpApi"  # the API SAM creates when an HttpApi event names no ApiId


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or "ANY"
    path: str  # as declared, e.g. "/payments/{partnerReference}"
    function_id: str
    api_id: str
    authorizer: str  # "NONE", "AWS_IAM" or the name of a JWT/Lambda authorizer

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves the request, else None."""
        if self.method not in ("ANY", method.upper()):
            return None
        found = _path_pattern(self.path).fullmatch(path)
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class QueueSource:
    logical_id: str  # the queue's
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class ScheduleSource:
    expression: str  # rate(...) or cron(...)
    input: str | None  # the event's Input, when the template sets one
    enabled: bool


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    function_name: str
    code_dir: Path
    handler: str
    runtime: str
    timeout: float
    memory_size: int
    layer_dirs: tuple[Path, ...]
    environment: Mapping[str, str]
    routes: tuple[Route, ...]
    queues: tuple[QueueSource, ...]
    schedules: tuple[ScheduleSource, ...]


def merge_globals(global_properties: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rules: maps merge (the function wins), lists are appended, scalars are overridden."""
    merged: dict[str, Any] = dict(global_properties)
    for key, value in properties.items():
        if key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = merge_globals(merged[key], value)
        elif key in merged and isinstance(merged[key], list) and isinstance(value, list):
            merged[key] = [*merged[key], *value]
        else:
            merged[key] = value
    return merged


def functions(template: Mapping[str, Any], resolver: Resolver, template_dir: Path) -> dict[str, FunctionSpec]:
    """Logical id → everything needed to run that function as Lambda would."""
    global_properties = template.get("Globals", {}).get("Function", {})
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in resources_of_type(template, FUNCTION_TYPE).items():
        if not resolver.included(resource):
            continue
        raw = merge_globals(global_properties, resource.get("Properties", {}))
        events = raw.pop("Events", {}) or {}
        properties = resolver.resolve(raw)
        runtime = str(properties.get("Runtime", ""))
        if not runtime.startswith("python"):
            raise TemplateError(f"{logical_id}: runtime {runtime!r} cannot run locally (python only)")
        code_uri = properties.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: only a local CodeUri directory can run locally")
        variables = properties.get("Environment", {}).get("Variables", {})
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            function_name=str(properties.get("FunctionName", logical_id)),
            code_dir=(template_dir / code_uri).resolve(),
            handler=str(properties["Handler"]),
            runtime=runtime,
            timeout=float(properties.get("Timeout", 3)),
            memory_size=int(properties.get("MemorySize", 128)),
            layer_dirs=tuple(Path(layer) for layer in properties.get("Layers", [])),
            environment={key: _env_string(value) for key, value in variables.items()},
            routes=tuple(_routes(template, logical_id, events, resolver)),
            queues=tuple(_queues(logical_id, events)),
            schedules=tuple(_schedules(events, resolver)),
        )
    return specs


def routes(specs: Mapping[str, FunctionSpec]) -> list[Route]:
    """Every HttpApi route of every function."""
    return [route for spec in specs.values() for route in spec.routes]


def _routes(
    template: Mapping[str, Any], function_id: str, events: Mapping[str, Any], resolver: Resolver
) -> list[Route]:
    found = []
    for event in events.values():
        if event.get("Type") != "HttpApi":
            continue
        properties = event.get("Properties", {}) or {}
        api = properties.get("ApiId", {"Ref": IMPLICIT_HTTP_API})
        api_id = api["Ref"] if isinstance(api, dict) and "Ref" in api else str(api)
        path = str(resolver.resolve(properties.get("Path", "$default")))
        method = str(resolver.resolve(properties.get("Method", "ANY"))).upper()
        found.append(
            Route(method, path, function_id, api_id, _authorizer(template, api_id, properties, resolver))
        )
    return found


def _authorizer(
    template: Mapping[str, Any], api_id: str, event_properties: Mapping[str, Any], resolver: Resolver
) -> str:
    route_auth = resolver.resolve(event_properties.get("Auth", {})) or {}
    if "Authorizer" in route_auth:
        return str(route_auth["Authorizer"])
    api = template.get("Resources", {}).get(api_id, {})
    api_properties = merge_globals(template.get("Globals", {}).get("HttpApi", {}), api.get("Properties", {}))
    default = resolver.resolve(api_properties.get("Auth", {}) or {}).get("DefaultAuthorizer")
    return str(default) if default else "NONE"


def jwt_authorizers(template: Mapping[str, Any], resolver: Resolver) -> dict[tuple[str, str], JwtAuthorizer]:
    """(HttpApi logical id, authorizer name) → its JWT configuration, for every HttpApi's JWT authorizers."""
    found = {}
    global_properties = template.get("Globals", {}).get("HttpApi", {})
    for api_id, api in resources_of_type(template, HTTP_API_TYPE).items():
        if not resolver.included(api):
            continue
        properties = merge_globals(global_properties, api.get("Properties", {}))
        for name, raw in ((properties.get("Auth") or {}).get("Authorizers") or {}).items():
            configuration = resolver.resolve(raw.get("JwtConfiguration"))
            if not configuration:
                continue  # a Lambda authorizer: not emulated (the local stack refuses to start with one in use)
            header = str(raw.get("IdentitySource", "$request.header.Authorization"))
            audiences = configuration.get("audience") or []
            audiences = [audiences] if isinstance(audiences, str) else audiences
            found[(api_id, name)] = JwtAuthorizer(
                name=name,
                issuer=str(configuration.get("issuer", "")),
                audiences=tuple(str(a) for a in audiences),
                identity_header=header.rsplit(".", 1)[-1].lower(),
            )
    return found


def _queues(function_id: str, events: Mapping[str, Any]) -> list[QueueSource]:
    found = []
    for name, event in events.items():
        if event.get("Type") != "SQS":
            continue
        properties = event.get("Properties", {})
        queue = properties.get("Queue")
        if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
            raise TemplateError(
                f"{function_id}.{name}: the local stack runs SQS sources given as !GetAtt Q.Arn"
            )
        target = queue["Fn::GetAtt"]
        logical_id = target.split(".")[0] if isinstance(target, str) else target[0]
        found.append(
            QueueSource(
                logical_id=logical_id,
                batch_size=int(properties.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures"
                in properties.get("FunctionResponseTypes", []),
            )
        )
    return found


def _schedules(events: Mapping[str, Any], resolver: Resolver) -> list[ScheduleSource]:
    found = []
    for event in events.values():
        if event.get("Type") not in ("Schedule", "ScheduleV2"):
            continue
        properties = resolver.resolve(event.get("Properties", {}))
        expression = properties.get("Schedule") or properties.get("ScheduleExpression", "")
        enabled = properties.get("Enabled", True) and properties.get("State", "ENABLED") != "DISABLED"
        found.append(ScheduleSource(str(expression), properties.get("Input"), bool(enabled)))
    return found


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs for ``rate(N unit)``; None for cron expressions."""
    found = re.fullmatch(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)", expression.strip())
    if found is None:
        return None
    unit = found.group(2).rstrip("s")
    return int(found.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[unit]


def _env_string(value: Any) -> str:
    # Lambda environment values are strings; CloudFormation turns booleans and numbers into their text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _path_pattern(path: str) -> re.Pattern[str]:
    if path == "$default":
        return re.compile(r".*")
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            if name.endswith("+"):  # greedy {proxy+}
                pattern += f"(?P<{name[:-1]}>.+)"
            else:
                pattern += f"(?P<{name}>[^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(pattern)
