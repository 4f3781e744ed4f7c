"""The shared token cache: token JSON in an SSM SecureString, lease lock in the DynamoDB locks table."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from pay1st.tokens import Token

__all__ = ["SsmTokenStore"]

logger = logging.getLogger("pay1st")


class SsmTokenStore:
    """:class:`pay1st.tokens.TokenStore` backed by SSM Parameter Store and DynamoDB.

    - ``load``: ``get_parameter(WithDecryption=True)``; a missing or unreadable parameter is ``None``.
    - ``save``: ``put_parameter(Type="SecureString", Overwrite=True)`` (created at runtime:
      CloudFormation cannot create SecureString parameters).
    - ``try_lock``: conditional put of ``{"lockId", "owner", "expiresAt"}`` that succeeds only when no
      lease exists or the existing one expired (``expiresAt`` doubles as the table's TTL attribute).
    - ``unlock``: conditional delete, only by the owner.

    boto3 clients are created on first use (so tests can set up moto first) unless injected.
    """

    def __init__(
        self,
        parameter_name: str,
        lock_table_name: str,
        *,
        ssm: Any = None,
        dynamodb: Any = None,
        kms_key_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.parameter_name = parameter_name
        self.lock_table_name = lock_table_name
        self.lock_id = f"pay1st-token#{parameter_name}"
        self._ssm = ssm
        self._dynamodb = dynamodb
        self._kms_key_id = kms_key_id
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"SsmTokenStore(parameter_name={self.parameter_name!r}, lock_table_name={self.lock_table_name!r})"
        )

    @property
    def ssm(self) -> Any:
        if self._ssm is None:
            self._ssm = boto3.client("ssm")
        return self._ssm

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = boto3.client("dynamodb")
        return self._dynamodb

    def load(self) -> Token | None:
        try:
            response = self.ssm.get_parameter(Name=self.parameter_name, WithDecryption=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return None
            raise
        try:
            return Token.from_json(response["Parameter"]["Value"])
        except ValueError:
            logger.warning("pay1st token parameter %s holds no valid token; ignoring it", self.parameter_name)
            return None

    def save(self, token: Token) -> None:
        kwargs: dict[str, Any] = {
            "Name": self.parameter_name,
            "Value": token.to_json(),
            "Type": "SecureString",
            "Overwrite": True,
        }
        if self._kms_key_id:
            kwargs["KeyId"] = self._kms_key_id
        self.ssm.put_parameter(**kwargs)

    def try_lock(self, owner: str, lease_seconds: float) -> bool:
        now = self._clock()
        try:
            self.dynamodb.put_item(
                TableName=self.lock_table_name,
                Item={
                    "lockId": {"S": self.lock_id},
                    "owner": {"S": owner},
                    "expiresAt": {"N": str(math.ceil(now + lease_seconds))},
                },
                ConditionExpression="attribute_not_exists(lockId) OR expiresAt < :now",
                ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def unlock(self, owner: str) -> None:
        try:
            self.dynamodb.delete_item(
                TableName=self.lock_table_name,
                Key={"lockId": {"S": self.lock_id}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
