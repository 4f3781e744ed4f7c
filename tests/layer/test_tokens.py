"""Tokens: lifetime and refresh-ahead, refresh failure fallback, 401 invalidation, single-flight."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from layer_fakes import REFRESH, STATUS, TOKEN, FakeClock, FakeGateway, Reply, make_client
from pay1st.errors import Pay1stConnectionError
from pay1st.tokens import InMemoryTokenStore, Token, TokenManager, TokenStore


class CountingIssuer:
    """An in-process issuer for manager-only tests (the client tests use the real HTTP one)."""

    def __init__(self, clock: FakeClock, *, fail_refresh: bool = False) -> None:
        self.clock = clock
        self.fail_refresh = fail_refresh
        self.generated = 0
        self.refreshed: list[str] = []

    def generate_token(self, *, deadline: float | None = None) -> Token:
        self.generated += 1
        return Token(f"a{self.generated}", f"r{self.generated}", self.clock.time())

    def refresh_token(self, refresh_token: str, *, deadline: float | None = None) -> Token:
        self.refreshed.append(refresh_token)
        if self.fail_refresh:
            raise Pay1stConnectionError("refresh failed")
        return Token(f"a-refreshed-{len(self.refreshed)}", refresh_token, self.clock.time())


class BrokenStore:
    def load(self) -> Token | None:
        raise RuntimeError("store down")

    def save(self, token: Token) -> None:
        raise RuntimeError("store down")

    def try_lock(self, owner: str, lease_seconds: float) -> bool:
        raise RuntimeError("store down")

    def unlock(self, owner: str) -> None:
        raise RuntimeError("store down")


def manager(
    clock: FakeClock, issuer: CountingIssuer, store: TokenStore | None = None, **kw: float
) -> TokenManager:
    return TokenManager(
        store or InMemoryTokenStore(clock=clock.time),
        issuer,
        clock=clock.time,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        **kw,
    )


def test_token_repr_hides_values() -> None:
    token = Token("secret-access", "secret-refresh", 1.0)
    assert "secret" not in repr(token) and "secret" not in str(token)
    assert Token.from_json(token.to_json()) == token
    with pytest.raises(ValueError) as caught:
        Token.from_json('{"accessToken": "secret-access"}')
    assert "secret" not in str(caught.value)


def test_in_memory_store_lock_semantics(clock: FakeClock) -> None:
    store = InMemoryTokenStore(clock=clock.time)
    assert store.try_lock("a", 10)
    assert not store.try_lock("b", 10)
    store.unlock("b")  # not the owner: no effect
    assert not store.try_lock("b", 10)
    clock.advance(11)
    assert store.try_lock("b", 10)  # a's lease expired
    store.unlock("b")
    assert store.try_lock("a", 10)
    assert isinstance(store, TokenStore)


def test_token_is_used_until_the_margin_then_refreshed(clock: FakeClock) -> None:
    issuer = CountingIssuer(clock)
    tokens = manager(clock, issuer, lifetime=300, refresh_margin=60)
    first = tokens.get()
    clock.advance(239)
    assert tokens.get() is first
    clock.advance(2)  # 241 s old: inside the 60 s margin
    refreshed = tokens.get()
    assert refreshed.access_token == "a-refreshed-1" and issuer.refreshed == ["r1"]
    assert tokens.counters["issued"] == 1 and tokens.counters["refreshed"] == 1


def test_expired_token_is_replaced_by_a_new_one_without_refreshing(clock: FakeClock) -> None:
    issuer = CountingIssuer(clock)
    tokens = manager(clock, issuer)
    tokens.get()
    clock.advance(301)
    assert tokens.get().access_token == "a2"
    assert issuer.refreshed == []


def test_refresh_failure_falls_back_to_a_new_token(clock: FakeClock) -> None:
    issuer = CountingIssuer(clock, fail_refresh=True)
    tokens = manager(clock, issuer)
    tokens.get()
    clock.advance(250)
    assert tokens.get().access_token == "a2"
    assert tokens.counters == tokens.counters | {"issued": 2, "refreshed": 0, "refresh_failed": 1}


def test_a_token_in_the_store_is_used_instead_of_issuing(clock: FakeClock) -> None:
    store = InMemoryTokenStore(clock=clock.time)
    store.save(Token("shared", "r", clock.time() - 100))
    issuer = CountingIssuer(clock)
    tokens = manager(clock, issuer, store)
    assert tokens.get().access_token == "shared"
    assert issuer.generated == 0 and tokens.counters["store_reads"] == 1
    tokens.get()
    assert tokens.counters["store_reads"] == 1  # then served from memory


def test_invalidated_token_is_not_reloaded_from_the_store(clock: FakeClock) -> None:
    store = InMemoryTokenStore(clock=clock.time)
    issuer = CountingIssuer(clock)
    tokens = manager(clock, issuer, store)
    bad = tokens.get()
    tokens.invalidate(bad)
    fresh = tokens.get()
    assert (
        fresh.access_token == "a2" and issuer.refreshed == []
    )  # a rejected token is replaced, not refreshed
    assert store.load() == fresh


def test_a_broken_store_does_not_block_tokens(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    issuer = CountingIssuer(clock)
    tokens = manager(clock, issuer, BrokenStore())
    assert tokens.get().access_token == "a1"
    assert "token store" in caplog.text


def test_a_crashed_lock_holder_is_waited_out(clock: FakeClock) -> None:
    store = InMemoryTokenStore(clock=clock.time)
    assert store.try_lock("crashed-container", 10)
    issuer = CountingIssuer(clock)
    tokens = manager(clock, issuer, store, lease_seconds=10, poll_interval=0.5)
    assert tokens.get().access_token == "a1"
    assert 10 <= sum(clock.sleeps) <= 11  # polled until the lease ran out, then took the lock
    assert tokens.counters["lock_waits"] == 1


def test_a_waiting_container_picks_up_the_winners_token(clock: FakeClock) -> None:
    store = InMemoryTokenStore(clock=clock.time)
    store.try_lock("winner", 10)
    issuer = CountingIssuer(clock)
    tokens = manager(clock, issuer, store, poll_interval=0.5)
    original_sleep = clock.sleep

    def winner_saves_while_we_sleep(seconds: float) -> None:
        original_sleep(seconds)
        store.save(Token("from-winner", "r", clock.time()))

    tokens._sleep = winner_saves_while_we_sleep
    assert tokens.get().access_token == "from-winner"
    assert issuer.generated == 0


def test_lifetime_and_margin_are_validated() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError):
        manager(clock, CountingIssuer(clock), lifetime=60, refresh_margin=60)


# --- with the real client over HTTP -----------------------------------------------------------------


def test_client_refreshes_over_http_and_then_falls_back(gateway: FakeGateway, clock: FakeClock) -> None:
    client = make_client(gateway, clock)
    client.get_payment("C-1-P")
    clock.advance(250)
    client.get_payment("C-1-P")
    assert gateway.count(REFRESH) == 1 and gateway.count(TOKEN) == 1
    [refresh] = gateway.requests_to(REFRESH)
    assert b'"refreshToken":"refresh-token-value-1"' in refresh.body
    assert gateway.requests_to(STATUS)[-1].header("AccessToken") == "Bearer access-token-value-2-zz9"

    clock.advance(250)
    gateway.script(REFRESH, Reply(400, {"errorCode": "INVALID_REFRESH_TOKEN", "sessionId": "s-r"}))
    client.get_payment("C-1-P")
    assert gateway.count(REFRESH) == 2 and gateway.count(TOKEN) == 2
    assert client.tokens.counters["refresh_failed"] == 1


def test_twenty_cold_clients_sharing_a_store_make_one_token_request(gateway: FakeGateway) -> None:
    gateway.token_delay = 0.2  # a slow token endpoint widens the race
    store = InMemoryTokenStore()
    clients = [make_client(gateway, store=store) for _ in range(20)]
    start = threading.Barrier(20)

    def call(index: int) -> str:
        start.wait()
        return clients[index].get_payment("C-1-P").status

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(call, range(20)))
    assert statuses == ["SUCCESSFUL"] * 20
    assert gateway.count(TOKEN) == 1 and gateway.count(REFRESH) == 0
    assert sum(c.tokens.counters["issued"] for c in clients) == 1


def test_threads_of_one_client_make_one_token_request(gateway: FakeGateway) -> None:
    gateway.token_delay = 0.1
    client = make_client(gateway)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: client.get_payment("C-1-P"), range(32)))
    assert gateway.count(TOKEN) == 1 and gateway.count(STATUS) == 32
