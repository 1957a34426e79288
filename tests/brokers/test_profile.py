"""Client order ids fit the exchange profile; echoed ids are recognised."""

from __future__ import annotations

from brokers.profile import DEFAULT_PROFILE, merged_profile, new_client_order_id, same_client_id


def test_ids_are_32_lowercase_alphanumerics_by_default():
    ids = {new_client_order_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 32 and i.isalnum() and i == i.lower() for i in ids)


def test_ids_fit_a_shorter_maximum_and_a_digits_only_alphabet():
    assert len(new_client_order_id(profile={"client_id_max_length": 28})) == 28
    digits = new_client_order_id(profile={"client_id_alphabet": "digits"})
    assert digits.isdigit() and len(digits) == 18 and int(digits) < 2**63
    short = new_client_order_id(
        profile={"client_id_alphabet": "digits", "client_id_max_length": 10}
    )
    assert short.isdigit() and len(short) == 10


def test_an_echoed_id_with_a_prefix_is_ours():
    assert same_client_id("bs123", "bs123")
    assert same_client_id("t-bs123", "bs123")
    assert not same_client_id("bs1234", "bs123")
    assert not same_client_id(None, "bs123")
    assert not same_client_id("", "")


def test_a_profile_is_laid_over_the_defaults():
    assert merged_profile({}) == DEFAULT_PROFILE
    merged = merged_profile({"lookup": "none"}, {"client_id_param": None})
    assert merged["lookup"] == "none" and merged["client_id_param"] is None
    assert merged["client_id_alphabet"] == "alnum"
