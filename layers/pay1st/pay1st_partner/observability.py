"""The one Logger, Metrics and Tracer of the bundle, created once per container.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE
(set in the template's Globals: the service is the stack name, so a sandbox and a production stack in one
account and region emit, and alarm on, metrics of their own). Nothing secret is ever passed to the logger:
tokens, signatures, credentials and checkout URLs stay out of log calls by construction.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

# Read once per container, as Powertools reads them; the defaults only serve code run outside the stack.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "").strip() or "pay1st"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "").strip() or "Pay1st"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


class _DisabledTracer:
    """Stands in for Powertools' Tracer where X-Ray is not used: its decorators pass functions through.

    Powertools' Tracer imports aws-xray-sdk (and with it botocore) as soon as it is constructed, even when
    disabled, and fails outright when the SDK is not installed - and the layer does not ship it by
    default (it costs ~0.3 s of cold start against our <= 1.3x boto3 import budget).
    """

    def capture_lambda_handler(self, lambda_handler: Any = None, **_options: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)

    def capture_method(self, method: Any = None, **_options: Any) -> Any:
        return method if method is not None else (lambda function: function)

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        pass


def _make_tracer() -> Tracer:
    """The real Tracer only in Lambda, with tracing on and aws-xray-sdk in the layer; else the stand-in."""
    in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL")
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in (
        "1",
        "true",
        "yes",
        "on",
    )
    if in_lambda and not disabled and importlib.util.find_spec("aws_xray_sdk") is not None:
        return Tracer(service=SERVICE)
    return cast(Tracer, _DisabledTracer())


tracer = _make_tracer()


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Add a Count metric; extra dimensions go on a metric of their own so they don't leak into others."""
    if not dimensions:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    from aws_lambda_powertools.metrics import single_metric

    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        for key, dim_value in dimensions.items():
            metric.add_dimension(name=key, value=dim_value)


class TokenRefreshMeter:
    """Turns a TokenManager's cumulative counters into per-invocation TokenRefreshes/TokensIssued metrics."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def emit(self, counters: Mapping[str, int]) -> None:
        for key, metric_name in (("refreshed", "TokenRefreshes"), ("issued", "TokensIssued")):
            current = int(counters.get(key, 0))
            delta = current - self._seen.get(key, 0)
            self._seen[key] = current
            if delta > 0:
                count(metric_name, delta)
