"""The checklist's "replicate the staging configuration for production": a production stack's parameters
against the sandbox stack's (``--compare-with``), every difference listed.

Some parameters are per environment by nature (the gateway hosts, the environment, your own URLs and
Pay1st's partner identity may differ); the others are the configuration staging proved, and a difference
there fails the step. A production stack still pointing at the staging gateway fails it too.
"""

from __future__ import annotations

from collections.abc import Mapping

from go_live.context import Check
from go_live.report import Outcome, failed, not_applicable, passed

# Expected to differ between the two stacks: listed, never a failure.
PER_ENVIRONMENT = frozenset(
    {
        "Environment",
        "Pay1stApiBaseUrl",
        "Pay1stPayBaseUrl",
        "ResultPageUrl",
        "PublicBaseUrl",
        "Pay1stPartnerCode",
        "Pay1stPartnerId",
        "AlarmEmail",
        # How long logs and events are kept: a cost and compliance choice per stack, not configuration staging proves.
        "LogRetentionDays",
        "EventArchiveRetentionDays",
        # The poller's share of the partner's Pay1st rate limit, which Pay1st sets per environment.
        "StatusQueriesPerSecond",
    }
)
# Must point elsewhere in production than in the sandbox stack.
MUST_DIFFER = ("Pay1stApiBaseUrl", "Pay1stPayBaseUrl")


def differences(production: Mapping[str, str], sandbox: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Parameter → (production value, sandbox value), for every parameter whose values differ."""
    names = sorted(set(production) | set(sandbox))
    return {
        name: (production.get(name, "<absent>"), sandbox.get(name, "<absent>"))
        for name in names
        if production.get(name) != sandbox.get(name)
    }


def production_configuration(check: Check) -> Outcome:
    parameters = check.target.parameters
    if parameters.get("Environment") != "production":
        return not_applicable(
            f"Environment={parameters.get('Environment', 'sandbox')}: only a production stack is compared"
        )
    other, name = check.options.compare_parameters, check.options.compare_with
    if other is None or name is None:
        return failed(
            "a production stack and no sandbox stack to compare it with",
            "pass --compare-with <sandbox stack> (make go-live-check STACK=… COMPARE_WITH=…)",
        )
    found = differences(parameters, other)
    listed = (
        "; ".join(f"{key}: {prod!r} here, {sand!r} in {name}" for key, (prod, sand) in found.items())
        or "none"
    )
    replicate = [key for key in found if key not in PER_ENVIRONMENT]
    same_gateway = [key for key in MUST_DIFFER if key in parameters and parameters.get(key) == other.get(key)]
    not_sandbox = other.get("Environment") != "sandbox"
    details = {"compareWith": name, "differences": {key: list(pair) for key, pair in found.items()}}
    if not (replicate or same_gateway or not_sandbox):
        return passed(f"differences from {name} are all per environment: {listed}", **details)
    problems, fixes = list(replicate), []
    if replicate:
        values = " ".join(f"{key}={other.get(key, '')}" for key in replicate)
        fixes.append(
            f"replicate the staging configuration: sam deploy --config-env production --parameter-overrides {values}"
        )
    if same_gateway:
        problems += [f"{key} is the sandbox's" for key in same_gateway]
        fixes.append(
            "point Pay1stApiBaseUrl/Pay1stPayBaseUrl at the production gateway (samconfig.toml [production])"
        )
    if not_sandbox:
        problems.append(f"{name} has Environment={other.get('Environment')}")
        fixes.append("compare with the sandbox (staging) stack")
    return failed(f"{', '.join(problems)}; all differences: {listed}", "; ".join(fixes), **details)
