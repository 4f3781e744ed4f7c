"""The gateway's refusals: a status, an errorCode and a message (§13 body shape)."""

from __future__ import annotations


class GatewayError(Exception):
    """Answered as ``{"errorMessage", "errorCode", "sessionId"}`` with `status`."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(code: str, message: str) -> GatewayError:
    return GatewayError(400, code, message)


def unauthorized(code: str, message: str) -> GatewayError:
    return GatewayError(401, code, message)


def not_allowed(code: str, message: str) -> GatewayError:
    return GatewayError(405, code, message)


class ControlError(Exception):
    """A refused control-API call, answered as ``{"code", "message"}`` (the project's own error shape)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
