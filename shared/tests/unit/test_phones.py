"""Phone numbers through libphonenumber: Japanese forms in, domestic digits kept, E.164 out."""

from __future__ import annotations

import pytest

from tsunagu.shared import phones


@pytest.mark.parametrize(
    ("given", "digits", "shown", "e164", "mobile"),
    [
        ("0312345678", "0312345678", "03-1234-5678", "+81312345678", False),  # Tokyo
        ("048-222-1111", "0482221111", "048-222-1111", "+81482221111", False),  # Saitama
        ("０９０－１２３４－５６７８", "09012345678", "090-1234-5678", "+819012345678", True),
        ("+81 (0)80 1234 5678", "08012345678", "080-1234-5678", "+818012345678", True),
        ("0120-123-456", "0120123456", "0120-123-456", "+81120123456", False),
    ],
)
def test_japanese_numbers(given: str, digits: str, shown: str, e164: str, mobile: bool) -> None:
    assert phones.domestic_digits(given) == digits
    assert phones.display(digits) == shown
    assert phones.e164(digits) == e164
    assert phones.is_mobile(digits) is mobile


@pytest.mark.parametrize("given", ["12345", "0312345", "0001234567", "電話"])
def test_numbers_that_cannot_be_dialled_are_refused(given: str) -> None:
    with pytest.raises(phones.PhoneError):
        phones.domestic_digits(given)
    assert phones.is_mobile(given) is False
    assert phones.display(given) == given  # shown as given rather than lost


def test_a_foreign_number_is_not_stored_as_japanese() -> None:
    with pytest.raises(phones.PhoneError):
        phones.domestic_digits("+84 91 234 56 78")
    assert phones.e164("+84 91 234 56 78") == "+84912345678"
