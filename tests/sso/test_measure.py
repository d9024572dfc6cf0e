from .measure import measure


def test_measure_verification_time(capsys):
    saml_ms, token_ms = measure(rounds=5)
    with capsys.disabled():
        print(
            f"\nverify one SAML response: {saml_ms:.1f} ms; verify one ID token: {token_ms:.2f} ms (median)"
        )
    assert saml_ms > 0 and token_ms > 0
