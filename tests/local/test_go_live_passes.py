"""``make go-live-check`` with no STACK passes: the command's own entry point starts a local stack (moto, the
Pay1st sandbox, the functions) and every step of the checklist passes against it, in seconds.

In-process (``main`` is what ``python -m go_live`` runs; test_go_live_local checks the Makefile runs that), so
the local stack's own code is measured; alone in its module, since one process holds one local stack at a time.
"""

from __future__ import annotations

import io
import time

from go_live.__main__ import main

PASSING_STEPS = (
    "credentials secret",
    "gateway token (§2)",
    "token refresh (§3)",
    "payment methods (§6)",
    "partner API reachable",
    "test payment created (§7)",
    "webhook arrives (§10)",
    "callback reached (§11)",
    "status confirmed (§9)",
    "fulfilment delivered (§12)",
)


def test_go_live_check_passes_against_a_local_stack_it_starts() -> None:
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = main(["--countries", "NG,ZA"], out=out, err=err)
    elapsed = time.monotonic() - started
    output = out.getvalue()
    assert code == 0, output + err.getvalue()
    lines = output.splitlines()
    assert lines[0].startswith(
        "Pay1st go-live check: local stack (Environment sandbox, gateway http://127.0.0.1:"
    )
    for number, title in enumerate(PASSING_STEPS, start=1):
        assert any(line.startswith(f" ✓ {number:>2}. {title}") for line in lines), (title, output)
    assert "recorded and authenticated with scheme signing-key" in output
    assert "NG 7 active, ZA 3 active" in output  # the sandbox has Kuda, Paga, Palmpay, OPay QR (§14)
    assert "as the caller (SigV4)" in output  # the local stack enforces SigV4 on the partner routes
    assert "-> 302 to the result page (status=SUCCESSFUL, outcome=success)" in output
    assert (
        " · 11. production = staging config  Environment=sandbox: only a production stack is compared"
        in output
    )
    # The checkout link is shown without its access token (the sandbox pays; nobody needs the token).
    assert "accessToken=<hidden>" in output
    assert output.count("accessToken=") == output.count("accessToken=<hidden>")
    summary = lines.index(next(line for line in lines if line.startswith("OK: ")))
    assert lines[summary].startswith("OK: 11 passed, 0 failed, 0 skipped, 2 not applicable")
    # It ends with what only Pay1st can confirm (§17): the scheme measured, the refund reference not (no
    # --refund), and the questions the partner sends the Implementation Manager
    closing = lines[summary + 1 :]
    print("\n".join(closing))  # quoted in the closing note (pytest -s)
    assert closing[:2] == [
        "",
        "What only Pay1st can confirm (send this to your Pay1st Implementation Manager):",
    ]
    assert closing[2].startswith(
        " 1. [measured] webhook signature scheme (§10): Pay1st's payment webhook was signed with signing-key"
    )
    assert (
        closing[3].startswith(" 2. [ask] refund reference (§15): ")
        and "run with --refund on staging" in closing[3]
    )
    assert [line.split(":")[0] for line in closing[4:]] == [
        " 3. [ask] refund and chargeback APIs (§15, §16)",
        " 4. [ask] webhook retry policy (§10)",
        " 5. [ask] source IPs",
        " 6. [ask] rate limits",
        " 7. [ask] production API base (§14)",
    ]
    assert "this stack's StatusQueriesPerSecond is 5: it must stay below" in closing[7]
    assert elapsed < 90, elapsed  # seconds on an idle machine; generous for a loaded CI runner
