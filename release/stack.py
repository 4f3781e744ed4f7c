"""The checks `make deploy|sync|logs|delete ENV=` run before calling sam, and what `make delete` leaves behind.

``check-deploy ENV`` refuses (exit 1) an environment samconfig.toml does not have and the placeholder values
it ships: a stack deployed with them redirects customers to shop.example.com and sends every alarm to an
address nobody reads. ``check-sync ENV`` refuses production (``sam sync`` skips change sets and review).
``kept ENV`` prints what a ``sam delete`` of the stack leaves, read from template.yaml.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = ROOT / "samconfig.toml"
# Names reserved for examples and tests (RFC 2606, RFC 6761): no real page or mailbox lives under them.
_RESERVED = ("example.com", "example.net", "example.org", "example", "invalid", "test", "localhost")


def _config() -> dict[str, dict[str, dict[str, dict[str, object]]]]:
    return tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))


def environments() -> list[str]:
    return sorted(name for name, value in _config().items() if isinstance(value, dict) and "deploy" in value)


def overrides(environment: str) -> dict[str, str]:
    pairs = _config()[environment]["deploy"]["parameters"].get("parameter_overrides", [])
    assert isinstance(pairs, list)
    return dict(str(pair).split("=", 1) for pair in pairs)


def _reserved(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == name or host.endswith(f".{name}") for name in _RESERVED)


def placeholders(values: dict[str, str]) -> list[str]:
    """The parameters still holding an example value, each with what to put instead."""
    found = []
    for name, value in sorted(values.items()):
        if value.startswith(("http://", "https://")):
            host = urlsplit(value).hostname or ""
        elif "@" in value:
            host = value.rpartition("@")[2]
        else:
            continue
        if _reserved(host):
            found.append(f"{name}={value} is a placeholder ({host} is reserved for examples)")
    if values.get("PartnerAuth") == "JWT" and _reserved(
        urlsplit(values.get("JwtIssuer", "https://issuer.invalid")).hostname or ""
    ):
        found.append("PartnerAuth=JWT with the placeholder JwtIssuer: set your issuer's URL")
    return found


def check_env(environment: str) -> list[str]:
    if environment not in environments():
        return [
            f"ENV={environment or '(empty)'}: choose one of samconfig.toml's environments ({', '.join(environments())})"
        ]
    return []


def check_deploy(environment: str) -> list[str]:
    problems = check_env(environment)
    if problems:
        return problems
    return [
        *(
            f"{line}: replace it in samconfig.toml [{environment}.deploy.parameters]"
            for line in placeholders(overrides(environment))
        ),
    ]


def check_sync(environment: str) -> list[str]:
    if environment == "production":
        return ["sam sync skips change sets and review: not for production (make deploy ENV=production)"]
    return check_deploy(environment)


def kept(environment: str) -> str:
    """What deleting the environment's stack leaves, from the template's DeletionPolicy and what code creates."""
    sys.path.insert(0, str(ROOT / "local"))
    from local_stack.template import load_template  # the repository's CloudFormation-aware YAML loader

    template = load_template(ROOT / "template.yaml")
    stack = str(_config()[environment]["global"]["parameters"].get("stack_name", environment))
    retained = sorted(
        f"{logical_id} ({resource['Type']})"
        for logical_id, resource in template["Resources"].items()
        if resource.get("DeletionPolicy") == "Retain"
    )
    secret = next(
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::SecretsManager::Secret"
    )
    secret_kept = template["Resources"][secret].get("DeletionPolicy") == "Retain"
    lines = [f"Deleting stack {stack} keeps:"]
    lines += [
        f"  - {item}: DeletionPolicy Retain, with its data; delete it yourself once sure (aws dynamodb delete-table)"
        for item in retained
    ]
    lines.append(
        f"  - the SSM parameter /{stack}/pay1st/access-token: the functions create it, not the stack "
        f"(aws ssm delete-parameter --name /{stack}/pay1st/access-token)"
    )
    lines.append(
        "  - the deployment artifacts in sam's S3 bucket, unless you let sam delete remove them when it asks"
    )
    if secret_kept:
        lines.append(f"  - {secret}: DeletionPolicy Retain")
    else:
        lines.append(
            f"It deletes the credentials secret {stack}/pay1st/credentials ({secret}, no DeletionPolicy): copy the Pay1st "
            "keys first if you will deploy again; the log groups, queues, the event bus and its archive go too."
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    command, environment = [*argv, "", ""][:2]
    if command == "kept":
        problems = check_env(environment)
        if not problems:
            print(kept(environment))
    else:
        checks = {"check-deploy": check_deploy, "check-sync": check_sync, "check-env": check_env}
        if command not in checks:
            print(f"usage: python -m release.stack {{{','.join([*checks, 'kept'])}}} ENV", file=sys.stderr)
            return 2
        problems = checks[command](environment)
    for problem in problems:
        print(f"refused: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
