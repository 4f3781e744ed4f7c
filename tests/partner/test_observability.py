"""Token metrics are per invocation, though the TokenManager's counters are per container."""

import json

from pay1st_partner.observability import TokenRefreshMeter, metrics


def _emitted(capsys) -> dict:
    metrics.flush_metrics()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return {name: value for line in lines for name, value in line.items() if name.startswith("Token")}


def test_the_meter_emits_only_what_changed_since_the_last_invocation(capsys):
    meter = TokenRefreshMeter()

    # Given a container whose client has issued one token, then refreshed twice
    meter.emit({"issued": 1, "refreshed": 0})
    first = _emitted(capsys)
    meter.emit({"issued": 1, "refreshed": 2})
    second = _emitted(capsys)
    meter.emit({"issued": 1, "refreshed": 2})
    third = _emitted(capsys)

    assert first == {"TokensIssued": [1.0]}
    assert second == {"TokenRefreshes": [2.0]}
    assert third == {}
