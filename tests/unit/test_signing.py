"""Signed submissions: the canonical form is exactly what the README says, and the signature
covers every kwarg but ``auth``."""

from __future__ import annotations

import hashlib
import hmac
import json

from worker.security.signing import canonical_form, sign_kwargs

KEY = "awk_AbCdEfGh" + "x" * 40
KWARGS = {
    "tenant": "acme",
    "agent": "helper",
    "input": "Salut, ça va ?",
    "metadata": {"b": 1, "a": 2},
}


def test_the_canonical_form_is_sorted_compact_utf8_json_of_task_kwargs_and_auth_fields() -> None:
    form = canonical_form(
        "agents.run_task", KWARGS, key="awk_AbCdEfGh", timestamp=1700000000, nonce="n" * 16
    )

    assert (
        form
        == (
            '{"key":"awk_AbCdEfGh","kwargs":{"agent":"helper","input":"Salut, ça va ?",'
            '"metadata":{"a":2,"b":1},"tenant":"acme"},"nonce":"nnnnnnnnnnnnnnnn",'
            '"task":"agents.run_task","timestamp":1700000000}'
        ).encode()
    )


def test_sign_kwargs_adds_an_auth_field_with_the_prefix_and_the_hmac_of_the_canonical_form() -> (
    None
):
    signed = sign_kwargs("agents.run_task", KWARGS, KEY, timestamp=1700000000, nonce="n" * 16)

    auth = signed.pop("auth")
    assert signed == KWARGS
    assert auth["key"] == "awk_AbCdEfGh"  # the prefix only: the key never travels
    assert KEY not in json.dumps(auth)
    expected = hmac.new(
        KEY.encode(),
        canonical_form(
            "agents.run_task", KWARGS, key="awk_AbCdEfGh", timestamp=1700000000, nonce="n" * 16
        ),
        hashlib.sha256,
    ).hexdigest()
    assert auth == {
        "key": "awk_AbCdEfGh",
        "timestamp": 1700000000,
        "nonce": "n" * 16,
        "signature": expected,
    }


def test_the_signature_covers_the_task_name_and_every_kwarg() -> None:
    base = sign_kwargs("agents.run_task", KWARGS, KEY, timestamp=1, nonce="n" * 16)["auth"][
        "signature"
    ]

    assert (
        sign_kwargs("workflows.start", KWARGS, KEY, timestamp=1, nonce="n" * 16)["auth"][
            "signature"
        ]
        != base
    )
    changed = {**KWARGS, "input": "Salut, ça va !"}
    assert (
        sign_kwargs("agents.run_task", changed, KEY, timestamp=1, nonce="n" * 16)["auth"][
            "signature"
        ]
        != base
    )
    assert (
        sign_kwargs("agents.run_task", KWARGS, KEY, timestamp=2, nonce="n" * 16)["auth"][
            "signature"
        ]
        != base
    )


def test_re_signing_replaces_an_old_auth_field_rather_than_signing_it() -> None:
    once = sign_kwargs("agents.run_task", KWARGS, KEY, timestamp=1, nonce="n" * 16)
    twice = sign_kwargs("agents.run_task", once, KEY, timestamp=1, nonce="n" * 16)

    assert twice == once


def test_each_signature_gets_a_fresh_nonce_and_the_current_time() -> None:
    first = sign_kwargs("agents.run_task", KWARGS, KEY)["auth"]
    second = sign_kwargs("agents.run_task", KWARGS, KEY)["auth"]

    assert first["nonce"] != second["nonce"]
    assert isinstance(first["timestamp"], int) and first["timestamp"] > 1_700_000_000


def test_services_get_sign_kwargs_from_the_light_client() -> None:
    from worker import client

    assert client.sign_kwargs is sign_kwargs
