"""Personal numbers never reach logs, listings or stored errors unmasked (notifications/masking)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.masking import mask_address, mask_id_card, mask_phone, mask_text


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13800000000", "138****0000"),
        ("19912345678", "199****5678"),
        ("138-1234-5678", "138****5678"),
        ("0635-8211234", "0635-***1234"),  # landlines too (issue 17): a cadre may give his home
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("371502194603120017", "371502********0017"),
        ("37150219460312001X", "371502********001X"),
        ("371502********0013", "371502********0013"),
    ],
)
def test_mask_id_card(number: str, masked: str) -> None:
    assert mask_id_card(number) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("联系电话13800000000，请回电", "联系电话138****0000，请回电"),
        ("mobile +86 138 1234 5678 busy", "mobile +86 138****5678 busy"),
        ("身份证号371502194603120017已核验", "身份证号371502********0017已核验"),
        ("id 37150219460312001x.", "id 371502********001x."),
        # longer runs of digits are not phone numbers (order numbers, timestamps)
        ("order 138000000001234", "order 138000000001234"),
        ("policy PICC-LC-2024-000123", "policy PICC-LC-2024-000123"),
        ("two: 13800000000 and 13900000001", "two: 138****0000 and 139****0001"),
        ("no numbers at all", "no numbers at all"),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("zhang.jianguo@example.org", "z***@example.org"),
        ("13800000000", "138****0000"),
        (
            "https://user:secret@sms.example.org:8443/send?token=abc",
            "https://sms.example.org:8443/send?***",
        ),
        (None, ""),
    ],
)
def test_mask_address(address: str | None, masked: str) -> None:
    assert mask_address(address) == masked


_not_digits = st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=20)


@given(
    prefix=_not_digits,
    suffix=_not_digits,
    second=st.sampled_from("3456789"),
    rest=st.text(alphabet="0123456789", min_size=9, max_size=9),
)
def test_no_mobile_survives_masking(prefix: str, suffix: str, second: str, rest: str) -> None:
    phone = f"1{second}{rest}"
    masked = mask_text(f"{prefix}{phone}{suffix}")
    assert phone not in masked
    assert f"{phone[:3]}****{phone[-4:]}" in masked


@given(
    prefix=_not_digits,
    suffix=_not_digits,
    body=st.text(alphabet="0123456789", min_size=17, max_size=17),
    check=st.sampled_from("0123456789X"),
)
def test_no_id_number_survives_masking(prefix: str, suffix: str, body: str, check: str) -> None:
    number = body + check
    masked = mask_text(f"{prefix}{number}{suffix}")
    assert number not in masked
    assert f"{number[:6]}********{number[-4:]}" in masked
