"""The whole local stack: moto, the Pay1st sandbox, the functions and the HTTP API, from template.yaml."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import urllib3
from werkzeug.wrappers import Request, Response

from local_stack import aws, spec
from local_stack.api import RESULT_PATH, ApiServer, LocalApi, sorted_routes
from local_stack.issuer import ISSUER_PATH, LocalIssuer
from local_stack.own_routes import EVENTS_PATH, SCHEDULES_PREFIX, OwnRoutes, exposure_warning, json_response
from local_stack.partner_auth import PartnerAuthorizer, sigv4_headers
from local_stack.resolver import PSEUDO_PARAMETERS, Resolver, TemplateError
from local_stack.runtime import (
    DEFAULT_IDLE_SECONDS,
    FunctionPool,
    IdleReaper,
    InvokeResult,
    LogSink,
    lambda_environment,
    reaper_interval,
)
from local_stack.sources import BatchOutcome, QueuePoller, Schedule
from local_stack.template import TEMPLATE_PATH, load_template, parameter_defaults

if TYPE_CHECKING:
    from pay1st_sandbox import SandboxServer

log = logging.getLogger("local_stack")

DEFAULT_API_PORT = 3000
DEFAULT_MOTO_PORT = 5005
DEFAULT_SANDBOX_PORT = 8090


@dataclass
class StackOptions:
    template_path: Path = TEMPLATE_PATH
    host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT  # 0 everywhere = free ports (tests)
    moto_port: int = DEFAULT_MOTO_PORT
    sandbox_port: int = DEFAULT_SANDBOX_PORT
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    # sam's --env-vars shape: {"Parameters": {...all functions}, "<FunctionLogicalId>": {...}}
    env_vars: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    function_log: IO[str] | None = None  # where the functions' own logs go (None: discarded)
    prewarm: bool = False  # start one warm container per function up front (faster first requests)
    event_sources: bool = True  # poll queues and run schedules in the background
    schedule_interval: float | None = None  # override the template's rate(...) locally
    sandbox_seed: int = 0
    with_sandbox: bool = True  # False only for the runner's own tests: the gateway URL then leads nowhere
    enforce_auth: bool = True  # False = --no-auth: partner routes accept unsigned requests
    # A container idle this long is stopped, as Lambda reclaims idle environments (None: never).
    worker_idle_seconds: float | None = DEFAULT_IDLE_SECONDS


class LocalStack:
    """Start with ``start()`` (or as a context manager); ``invoke``, ``api_url``, ``sandbox`` then work."""

    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.template = load_template(self.options.template_path)
        self.template_dir = self.options.template_path.resolve().parent
        self.moto = aws.MotoServer(self.options.host, self.options.moto_port)
        self.sandbox: SandboxServer | None = None
        self.functions: dict[str, spec.FunctionSpec] = {}
        self.provisioned = aws.Provisioned()
        self.pools: dict[str, FunctionPool] = {}
        self.pollers: dict[str, QueuePoller] = {}
        self._reaper: IdleReaper | None = None
        self.schedules: dict[str, Schedule] = {}
        self._log = LogSink(self.options.function_log)
        self.issuer = LocalIssuer("http://127.0.0.1")  # its URL is the API's, known once the API binds
        self.own_routes = OwnRoutes(self.issuer, "", self._info)
        self._app = LocalApi(
            [],
            self.invoke,
            status_lookup=self._current_status,
            authorizer=PartnerAuthorizer(self.issuer, enforce=self.options.enforce_auth),
            own_routes=self.own_routes,
            result_key=self.result_key,
        )
        self._secret_values: dict[str, str] = {}
        self._api: ApiServer | None = None
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=20))
        self._events: list[dict[str, Any]] = []
        self._events_lock = threading.Lock()

    # ----------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> LocalStack:
        try:
            return self._start()
        except BaseException:
            self.stop()  # whatever did start (servers, containers) must not outlive a failed start
            raise

    def _start(self) -> LocalStack:
        options = self.options
        self._api = ApiServer(
            self._app, options.host, options.api_port
        )  # binds now: its URL goes into the env
        self.issuer.url = f"{self.api_url}{ISSUER_PATH}"
        endpoint_url = self.moto.start()
        secret_values = self._start_sandbox()
        self._secret_values = secret_values
        parameters = self._parameters()
        self.provisioned = aws.provision(
            self.template,
            parameters,
            endpoint_url,
            template_dir=self.template_dir,
            secret_values=secret_values,
        )
        resolver = Resolver(self.template, parameters, self.provisioned.refs, self.provisioned.attributes)
        self.functions = spec.functions(self.template, resolver, self.template_dir)
        for function_id, function in self.functions.items():
            env = lambda_environment(function, endpoint_url, self._local_environment(function))
            self.pools[function_id] = FunctionPool(
                function, env, self._log, idle_seconds=options.worker_idle_seconds
            )
        if options.worker_idle_seconds is not None:
            interval = reaper_interval(options.worker_idle_seconds)
            self._reaper = IdleReaper(self.pools.values(), interval).start()
        self._app.routes = sorted_routes(spec.routes(self.functions))
        self._set_up_auth(resolver)
        self.own_routes.add("GET", EVENTS_PATH, self._events_answer)
        self.own_routes.add("POST", SCHEDULES_PREFIX, self._schedule_answer)
        self._api.start()
        warning = exposure_warning(
            options.host, self.api_url, self.sandbox.base_url if self.sandbox else None, endpoint_url
        )
        if warning:
            log.warning("%s", warning)
        if options.prewarm:
            self._prewarm()
        self._set_up_sources(start=options.event_sources)
        return self

    def stop(self) -> None:
        for poller in self.pollers.values():
            poller.stop()
        for schedule in self.schedules.values():
            schedule.stop()
        if self._api is not None:
            self._api.stop()
        if self._reaper is not None:
            self._reaper.stop()
        for pool in self.pools.values():
            pool.shut_down()
        deadline = time.monotonic() + 0.3  # one short grace for all containers, then they are killed
        for pool in self.pools.values():
            pool.close(deadline)
        if self.sandbox is not None:
            self.sandbox.stop()
        self.moto.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------------------------------------- using it
    @property
    def api_url(self) -> str:
        if self._api is None:
            raise RuntimeError("the stack is not started")
        return self._api.base_url

    @property
    def gateway_url(self) -> str:
        """The Pay1st sandbox's base URL (API and hosted page on one port)."""
        return self.sandbox.base_url if self.sandbox is not None else "http://127.0.0.1:9"

    @property
    def endpoint_url(self) -> str:
        return self.moto.endpoint_url

    @property
    def result_page_url(self) -> str:
        return f"{self.api_url}{RESULT_PATH}"

    @property
    def routes(self) -> list[spec.Route]:
        return list(self._app.routes)

    def invoke(self, function_id: str, event: Any) -> InvokeResult:
        """One invocation on a warm container (a new one when none is idle), like Lambda's Invoke."""
        try:
            pool = self.pools[function_id]
        except KeyError:
            raise TemplateError(
                f"{function_id} is not a function of {self.options.template_path.name}"
            ) from None
        return pool.invoke(event)

    def poll_queue(self, function_id: str) -> BatchOutcome:
        """Run one batch of the function's SQS event source now."""
        return self.pollers[function_id].poll_once()

    def run_schedule(self, function_id: str) -> InvokeResult:
        """Run the function's schedule now."""
        return self.schedules[function_id].run_once()

    @property
    def partner_auth(self) -> str:
        """How the partner routes authenticate: ``AWS_IAM``, a JWT authorizer's name, or ``NONE``."""
        return self._app.authorizer.mode

    def partner_token(self, *, subject: str = "local-partner", lifetime: int = 3600) -> str:
        """A bearer token from the local issuer for the partner routes' JWT authorizer."""
        return self.issuer.mint(self._app.authorizer.audience, subject=subject, lifetime=lifetime)

    def partner_headers(
        self, method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """``headers`` plus what the partner routes' authorizer needs: a SigV4 signature or a bearer token."""
        auth = self.partner_auth
        if auth == "AWS_IAM":
            return sigv4_headers(method, url, body, headers)
        if auth == "NONE":
            return dict(headers or {})
        return {**(headers or {}), "Authorization": f"Bearer {self.partner_token()}"}

    def client(self, service: str) -> Any:
        return aws.client(service, self.endpoint_url)

    def published_events(self, *, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """Every event the functions put on the bus so far (read through the partner tap queue)."""
        sqs = self.client("sqs")
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.provisioned.tap_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            ).get("Messages", [])
            if not messages:
                break
            with self._events_lock:
                self._events.extend(json.loads(message["Body"]) for message in messages)
            sqs.delete_message_batch(
                QueueUrl=self.provisioned.tap_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            wait_seconds = 0
        with self._events_lock:
            return list(self._events)

    # -------------------------------------------------------------------------------------------- internals
    def _set_up_auth(self, resolver: Resolver) -> None:
        self._app.authorizer.configure(self.routes, spec.jwt_authorizers(self.template, resolver))
        self.own_routes.audience = self._app.authorizer.audience

    def _events_answer(self, request: Request) -> Response:
        reference = request.args.get("partnerReference")
        events = [
            event
            for event in self.published_events()
            if reference is None or event.get("detail", {}).get("partnerReference") == reference
        ]
        return json_response(200, events)

    def _schedule_answer(self, request: Request) -> Response:
        function_id = request.path.removeprefix(SCHEDULES_PREFIX)
        if function_id not in self.schedules:
            return json_response(404, {"message": f"{function_id} has no schedule"})
        result = self.run_schedule(function_id)
        return json_response(200 if result.ok else 500, result.result if result.ok else result.error)

    def _info(self) -> dict[str, Any]:
        """What a separate process (``trigger``, ``token``) needs to know about this running stack."""
        return {
            "apiUrl": self.api_url,
            "sandboxUrl": self.sandbox.base_url if self.sandbox else None,
            "motoUrl": self.endpoint_url,
            "partnerAuth": self.partner_auth,
            "issuer": self.issuer.url,
            "region": aws.REGION,
            # Logical id -> physical id, as CloudFormation's list_stack_resources names them (pay1st_ops).
            "stackName": PSEUDO_PARAMETERS["AWS::StackName"],
            "resources": dict(self.provisioned.refs),
            "parameters": self._parameters(),
            # The settings the functions run with (the poller's environment), for the operator's wiring.
            "functionEnvironment": self._settings_environment(self.functions.get("StatusPollerFunction")),
        }

    def _settings_environment(self, poller: spec.FunctionSpec | None) -> dict[str, str]:
        return {} if poller is None else {**poller.environment, **self._local_environment(poller)}

    def _start_sandbox(self) -> dict[str, str]:
        """Start the Pay1st sandbox; returns the credentials the template's secret holds locally.

        They include the sandbox's Basic Auth credentials, so webhooks verify under either scheme it signs
        with (``POST /_sandbox/webhooks/signing``) whenever ``WebhookSignatureMode`` accepts that scheme.
        """
        if not self.options.with_sandbox:
            return {"apiKey": "unused", "apiSecret": "unused", "signingKey": "unused"}
        from pay1st_sandbox import SandboxConfig, SandboxServer  # only when a gateway is wanted

        config = SandboxConfig(
            seed=self.options.sandbox_seed,
            default_webhook_url=f"{self.api_url}/webhooks/pay1st",
            default_callback_base=f"{self.api_url}/callbacks",
        )
        self.sandbox = SandboxServer(config, host=self.options.host, port=self.options.sandbox_port)
        self.sandbox.start()
        return {
            "apiKey": config.api_key,
            "apiSecret": config.api_secret,
            "signingKey": config.signing_key,
            "webhookUsername": config.webhook_username,
            "webhookPassword": config.webhook_password,
        }

    def _parameters(self) -> dict[str, str]:
        """Template defaults, then the local facts (sandbox URLs, result page), then the user's overrides."""
        declared = self.template.get("Parameters", {})
        values = parameter_defaults(self.template)
        local_facts = {
            "Pay1stApiBaseUrl": self.gateway_url,
            "Pay1stPayBaseUrl": self.gateway_url,
            "ResultPageUrl": self.result_page_url,
            "PublicBaseUrl": self.api_url,
            "JwtIssuer": self.issuer.url,  # the local issuer: its tokens are the ones the JWT authorizer takes
        }
        values.update({name: value for name, value in local_facts.items() if name in declared})
        values.update(self.options.parameter_overrides)
        return values

    def _local_environment(self, function: spec.FunctionSpec) -> dict[str, str]:
        """Values only the local stack knows, for the variables the template declares, plus sam --env-vars."""
        local = {
            "PAY1ST_API_BASE_URL": self.gateway_url,
            "PAY1ST_PAY_BASE_URL": self.gateway_url,
            "RESULT_PAGE_URL": self.result_page_url,
        }
        env = {name: value for name, value in local.items() if name in function.environment}
        # Webhook and callback URLs the functions send must point here, not at an execute-api domain.
        env["PUBLIC_BASE_URL"] = self.api_url
        env.update(self.options.env_vars.get("Parameters", {}))
        env.update(self.options.env_vars.get(function.logical_id, {}))
        return env

    def _prewarm(self) -> None:
        threads = [threading.Thread(target=pool.prewarm) for pool in self.pools.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _set_up_sources(self, *, start: bool) -> None:
        sqs = self.client("sqs")
        for function_id, function in self.functions.items():
            for queue in function.queues:
                poller = QueuePoller(
                    function_id,
                    queue,
                    sqs,
                    self.provisioned.refs[queue.logical_id],
                    self.provisioned.attributes[(queue.logical_id, "Arn")],
                    self.invoke,
                )
                self.pollers[function_id] = poller
            for schedule in function.schedules:
                interval = self.options.schedule_interval or spec.rate_seconds(schedule.expression) or 60.0
                self.schedules[function_id] = Schedule(function_id, schedule, interval, self.invoke)
        if start:
            for poller in self.pollers.values():
                poller.start()
            for each in self.schedules.values():
                each.start()

    def result_key(self) -> bytes:
        """The key the callback redirect signs the result page's parameters with: made from the local
        secret exactly as the functions make it (its ``callbackKey``, else derived from its Signing Key)."""
        from pay1st_partner_client.result_page import CALLBACK_KEY_SECRET_FIELD, callback_key

        return callback_key(
            self._secret_values.get(CALLBACK_KEY_SECRET_FIELD), self._secret_values.get("signingKey", "")
        )

    def _current_status(self, partner_reference: str) -> str | None:
        """What the partner's backend would ask for its result page: GET /payments/{ref} on our API."""
        url = f"{self.api_url}/payments/{quote(partner_reference, safe='')}"
        try:
            response = self._http.request("GET", url, headers=self.partner_headers("GET", url))
        except urllib3.exceptions.HTTPError:
            return None
        if response.status != 200:
            return None
        status = json.loads(response.data).get("status")
        return str(status) if status else None
