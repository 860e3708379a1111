"""Landline numbers are masked wherever mobiles are (issue 17, "Nothing lost by a slip of the
hand"): a cadre's or a family's home number (0635-6212345) is as personal as a mobile, so logs,
listings and stored errors keep only its area code and last four digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.masking import mask_address, mask_phone, mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("0635-6212345", "0635-***2345"),
        ("(0635)6212345", "(0635)***2345"),
        ("0635 621 2345", "0635 *** 2345"),
        ("06356212345", "0635***2345"),
        ("010-12345678", "010-****5678"),
        ("+86 635 6212345", "+86 635 ***2345"),
        ("+86-10-12345678", "+86-10-****5678"),
        ("家属电话 0635-6212345，手机 13800001234", "家属电话 0635-***2345，手机 138****1234"),
    ],
)
def test_a_landline_is_masked_like_a_mobile(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    ["批次 2024-06-03 至 2024-06-09", "协议 XY-2024-01、保单 P-2024-0001", "案件 12345678"],
)
def test_dates_and_references_are_not_taken_for_landlines(text: str) -> None:
    assert mask_text(text) == text


def test_mask_phone_and_address_mask_landlines() -> None:
    assert mask_phone("0635-6212345") == "0635-***2345"
    assert mask_address("0635-6212345") == "0635-***2345"


_not_digits = st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=20)


@given(
    prefix=_not_digits,
    suffix=_not_digits,
    area=st.sampled_from(["010", "021", "0635", "0531", "0898"]),
    separator=st.sampled_from(["", "-", " "]),
    number=st.text(alphabet="0123456789", min_size=7, max_size=8),
)
def test_no_landline_survives_masking(
    prefix: str, suffix: str, area: str, separator: str, number: str
) -> None:
    phone = f"{area}{separator}{number}"
    masked = mask_text(f"{prefix}{phone}{suffix}")
    assert phone not in masked
    assert number[-4:] in masked
