"""Cost per 1,000 payments and the fixed monthly cost of an idle stack, from one price table (bench/prices.json:
region and date in it) and what the handlers measurably do (bench/wru.py: DynamoDB units, time and log bytes
per step, on moto in-process with the sandbox on loopback).

The modelled payment: created, its customer redirected back once (callback), paid by one signed webhook (a
tenth of them redelivered once), fulfilled, its fulfilment sent (SQS: send, receive, delete), one EventBridge
event. Lambda time is the step's wall time here (moto and the sandbox in the same process, so an upper
figure); each invocation also writes Lambda's ~300-byte REPORT lines. The floor beside it: the same journey
with the write floor (6 WRU: one <= 1 KB write per state change plus a sparse keys-only due entry put and
removed), no reads, and no logs but Lambda's own.

Run: ``.venv/bin/python bench/cost.py`` (from the repository root). Goal: <= $0.025 per 1,000 without X-Ray.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GOAL_PER_1000 = 0.025
REDELIVERED_SHARE = 0.1
FLOOR_WRU = 6
SECONDS_PER_MONTH = 30 * 86400


def _wru() -> Any:
    spec = importlib.util.spec_from_file_location("bench_wru", REPO / "bench" / "wru.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _template_facts() -> dict[str, Any]:
    if str(REPO / "local") not in sys.path:
        sys.path.insert(0, str(REPO / "local"))
    from local_stack.template import load_template

    text = (REPO / "template.yaml").read_text()
    memory = int(re.search(r"Globals:.*?MemorySize: (\d+)", text, re.S).group(1))  # type: ignore[union-attr]
    rate = re.search(r"TracingSampleRate:.*?Default: ([0-9.]+)", text, re.S)
    # Resources as CloudFormation creates them: its Fn::ForEach loops expanded (one alarm per function each).
    resources = load_template(REPO / "template.yaml")["Resources"].values()
    types = Counter(r.get("Type") for r in resources)
    # CloudWatch bills an alarm per metric it watches: a metric-math alarm, each MetricStat it sums.
    alarm_metrics = sum(
        max(1, sum("MetricStat" in m for m in r.get("Properties", {}).get("Metrics", [])))
        for r in resources
        if r.get("Type") == "AWS::CloudWatch::Alarm"
    )
    return {
        "alarms": alarm_metrics,
        "dashboards": types["AWS::CloudWatch::Dashboard"],
        "secrets": types["AWS::SecretsManager::Secret"],
        "memory_gb": memory / 1024,
        "sample_rate": float(rate.group(1)) if rate else 1.0,
    }


def _lambda_cost(p: dict[str, Any], invocations: float, seconds: float, memory_gb: float) -> float:
    billed = math.ceil(seconds * 1000) / 1000  # 1 ms granularity
    return invocations * (p["lambda_request"] + billed * memory_gb * p["lambda_gb_second_arm64"])


def per_payment(steps: dict[str, Any], p: dict[str, Any], facts: dict[str, Any]) -> dict[str, float]:
    """Dollars per payment by part, and the counts behind them."""
    journey = {
        "create": 1.0,
        "first webhook": 1.0,
        "redelivered webhook": REDELIVERED_SHARE,
        "fulfilment": 1.0,
        "sender": 1.0,
    }
    invocations = sum(journey.values()) + 1  # + the callback redirect (one status read, no write once paid)
    api = invocations - 1  # every step but the SQS-driven sender, plus the callback: HTTP API requests
    seconds = (
        sum(share * steps[name].seconds for name, share in journey.items())
        + steps["redelivered webhook"].seconds
    )
    wru = sum(share * steps[name].wru for name, share in journey.items())
    rru = sum(share * steps[name].rru for name, share in journey.items()) + 1  # the callback's read
    log_bytes = (
        sum(share * steps[name].log_bytes for name, share in journey.items())
        + invocations * p["lambda_report_line_bytes"]
    )
    return {
        "invocations": invocations,
        "gb_seconds": seconds * facts["memory_gb"],
        "api_requests": api,
        "wru": wru,
        "rru": rru,
        "events": 1.0,
        "sqs_requests": 3.0,
        "log_bytes": log_bytes,
        "traces": invocations * facts["sample_rate"],
        "$lambda": _lambda_cost(p, invocations, seconds / invocations, facts["memory_gb"]),
        "$api": api * p["http_api_request"],
        "$dynamodb": wru * p["dynamodb_wru"] + rru * p["dynamodb_rru"],
        "$events": p["eventbridge_custom_event"],
        "$sqs": 3 * p["sqs_request"],
        "$logs": log_bytes / 1e9 * p["logs_ingested_gb"],
        "$xray": invocations * facts["sample_rate"] * p["xray_trace_recorded"],
        "$xray_all": invocations * p["xray_trace_recorded"],
    }


def main() -> int:
    p = json.loads((REPO / "bench" / "prices.json").read_text())
    facts = _template_facts()
    wru = _wru()
    with contextlib.redirect_stdout(io.StringIO()):
        steps = wru.measure()
    cost = per_payment(steps, p, facts)
    parts = ("$lambda", "$api", "$dynamodb", "$events", "$sqs", "$logs")
    total = sum(cost[k] for k in parts)
    floor = dict(cost)
    floor["$dynamodb"] = FLOOR_WRU * p["dynamodb_wru"]
    floor["$logs"] = cost["invocations"] * p["lambda_report_line_bytes"] / 1e9 * p["logs_ingested_gb"]
    floor_total = sum(floor[k] for k in parts)
    print(f"Cost per 1,000 payments ({p['region']}, prices of {p['date']}, bench/prices.json):")
    print(
        f"  per payment: {cost['invocations']:.1f} Lambda invocations, {cost['gb_seconds']:.3f} GB-s, "
        f"{cost['api_requests']:.1f} HTTP API requests, {cost['wru']:.1f} WRU, {cost['rru']:.1f} RRU, "
        f"{cost['events']:.0f} EventBridge event, {cost['sqs_requests']:.0f} SQS requests, "
        f"{cost['log_bytes']:.0f} log bytes, {cost['traces']:.2f} traces (sampling {facts['sample_rate']:.0%})"
    )
    print(f"  {'part':<10} {'$ / 1,000':>10} {'floor':>10}")
    for k in parts:
        print(f"  {k[1:]:<10} {cost[k] * 1000:>10.4f} {floor[k] * 1000:>10.4f}")
    met = total * 1000 <= GOAL_PER_1000
    print(
        f"  {'total':<10} {total * 1000:>10.4f} {floor_total * 1000:>10.4f}   without X-Ray (goal <= "
        f"${GOAL_PER_1000}: {'met' if met else 'NOT met'})"
    )
    print(
        f"  X-Ray: ${cost['$xray'] * 1000:.4f} per 1,000 at the template's sampling ({facts['sample_rate']:.0%}), "
        f"${cost['$xray_all'] * 1000:.4f} tracing every invocation"
    )
    idle = steps["poller, nothing due"]
    runs = SECONDS_PER_MONTH / 60
    poller = (
        _lambda_cost(p, runs, idle.seconds, facts["memory_gb"])
        + runs * idle.rru * p["dynamodb_rru"]
        + runs * (idle.log_bytes + p["lambda_report_line_bytes"]) / 1e9 * p["logs_ingested_gb"]
    )
    fixed = {
        "alarms": facts["alarms"] * p["cloudwatch_alarm_month"],
        "dashboard": facts["dashboards"] * p["cloudwatch_dashboard_month"],
        "secret": facts["secrets"] * p["secretsmanager_secret_month"],
        "poller runs": poller,
        "SQS polling": p["sqs_idle_requests_month"] * p["sqs_request"],
    }
    print(
        f"Fixed monthly cost of an idle stack: ${sum(fixed.values()):.2f} ("
        + ", ".join(f"{name} ${value:.2f}" for name, value in fixed.items())
        + f"; {facts['alarms']} alarm metrics, a poller run a minute: {idle.rru:.0f} RRU and {idle.seconds * 1000:.0f} ms here)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
