"""Typing helpers: the Lambda context object, as a Protocol so any runtime's context matches it."""

from __future__ import annotations

from typing import Any, Protocol


class LambdaCognitoIdentity(Protocol):
    cognito_identity_id: str | None
    cognito_identity_pool_id: str | None


class LambdaClientContext(Protocol):
    client: Any
    custom: dict[str, Any] | None
    env: dict[str, Any] | None


class LambdaContext(Protocol):
    """What the runtime passes as ``context`` (see awslambdaric's ``LambdaContext``)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int | str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    identity: LambdaCognitoIdentity | None
    client_context: LambdaClientContext | None

    def get_remaining_time_in_millis(self) -> int: ...


__all__ = ["LambdaClientContext", "LambdaCognitoIdentity", "LambdaContext"]
