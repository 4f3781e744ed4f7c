"""The AWS adapters on moto: SsmTokenStore (SSM SecureString + DynamoDB lease lock) and load_credentials."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from layer_fakes import STATUS, TOKEN, FakeClock, FakeGateway, make_client
from pay1st.aws import SsmTokenStore, load_credentials
from pay1st.errors import ConfigurationError
from pay1st.tokens import Token, TokenStore

PARAMETER = "/pay1st/test/access-token"
SECRET = "pay1st/credentials"


@pytest.fixture
def store(aws: Any, clock: FakeClock) -> SsmTokenStore:
    return SsmTokenStore(
        PARAMETER, aws.tables["LocksTable"], ssm=aws.ssm, dynamodb=aws.dynamodb, clock=clock.time
    )


def test_is_a_token_store(store: SsmTokenStore) -> None:
    assert isinstance(store, TokenStore)
    assert "LocksTable" in repr(store)


def test_load_without_a_parameter_is_none(store: SsmTokenStore) -> None:
    assert store.load() is None


def test_save_writes_a_secure_string_and_load_reads_it_back(store: SsmTokenStore, aws: Any) -> None:
    token = Token("access-1", "refresh-1", 1_768_473_000.5)
    store.save(token)
    store.save(token)  # overwrite works
    assert store.load() == token
    parameter = aws.ssm.get_parameter(Name=PARAMETER)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert parameter["Value"] != token.to_json()  # encrypted unless read WithDecryption


def test_an_unreadable_parameter_counts_as_empty(store: SsmTokenStore, aws: Any) -> None:
    aws.ssm.put_parameter(Name=PARAMETER, Value="garbage", Type="SecureString")
    assert store.load() is None


def test_lock_is_a_conditional_lease(store: SsmTokenStore, aws: Any, clock: FakeClock) -> None:
    assert store.try_lock("container-a", 10)
    item = aws.dynamodb.get_item(TableName="LocksTable", Key={"lockId": {"S": store.lock_id}})["Item"]
    assert item["owner"] == {"S": "container-a"}
    assert int(item["expiresAt"]["N"]) >= clock.time() + 10
    assert not store.try_lock("container-b", 10)
    store.unlock("container-b")  # not the owner: the lease stays
    assert not store.try_lock("container-b", 10)
    clock.advance(12)
    assert store.try_lock("container-b", 10)  # container-a's lease expired
    store.unlock("container-b")
    assert store.try_lock("container-c", 10)


def test_cold_clients_share_the_token_through_ssm(gateway: FakeGateway, store: SsmTokenStore) -> None:
    first = make_client(gateway, store=store)
    first.get_payment("C-1-P")
    second = make_client(gateway, store=store)  # another container, empty memory
    second.get_payment("C-1-P")
    assert gateway.count(TOKEN) == 1 and gateway.count(STATUS) == 2
    assert second.tokens.counters["issued"] == 0 and second.tokens.counters["store_reads"] == 1


def test_load_credentials(aws: Any) -> None:
    credentials = load_credentials(SECRET)
    assert credentials.api_key == "pk_sandbox_local"
    assert credentials.api_secret == "sk_sandbox_local_secret"
    assert credentials.signing_key == "sk_sandbox_7Qm2vXr9Lp4Tn8Wc"
    assert "sk_sandbox" not in repr(credentials)


def test_load_credentials_is_cached(aws: Any) -> None:
    load_credentials(SECRET, max_age=300)
    aws.secrets.put_secret_value(
        SecretId=SECRET, SecretString=json.dumps({"apiKey": "k2", "apiSecret": "s2", "signingKey": "g2"})
    )
    assert load_credentials(SECRET, max_age=300).api_key == "pk_sandbox_local"
    parameters.clear_caches()
    assert load_credentials(SECRET, max_age=300).api_key == "k2"


def test_a_missing_key_is_named_without_showing_values(aws: Any) -> None:
    aws.secrets.put_secret_value(
        SecretId=SECRET, SecretString=json.dumps({"apiKey": "pk-visible?", "apiSecret": "very-secret-value"})
    )
    parameters.clear_caches()
    with pytest.raises(ConfigurationError) as caught:
        load_credentials(SECRET)
    assert "signingKey" in str(caught.value)
    assert "very-secret-value" not in str(caught.value) and "pk-visible?" not in str(caught.value)


def test_a_non_json_secret_is_a_configuration_error(aws: Any) -> None:
    aws.secrets.put_secret_value(SecretId=SECRET, SecretString="apiKey=x")
    parameters.clear_caches()
    with pytest.raises(ConfigurationError) as caught:
        load_credentials(SECRET)
    assert "apiKey=x" not in str(caught.value)


def test_a_missing_secret_is_a_configuration_error(aws: Any) -> None:
    with pytest.raises(ConfigurationError):
        load_credentials("pay1st/does-not-exist")
