"""How the auditor reads an entry's detail on the audit page and in its CSV."""

from __future__ import annotations

from tsunagu.intake.service_layer.audit import detail_text


def test_detail_reads_as_key_value_pairs_in_key_order() -> None:
    detail = {
        "taken_offline": True,
        "fields": ["resident.name", "resident.phone"],
        "taken_offline_at": "2026-12-06T07:00:00+00:00",
        "late_intake": False,
    }
    assert detail_text(detail) == (
        "fields=resident.name,resident.phone; late_intake=false; taken_offline=true; "
        "taken_offline_at=2026-12-06T07:00:00+00:00"
    )


def test_the_cases_a_view_showed_have_their_own_column_and_are_left_out() -> None:
    assert detail_text({"case_ids": ["a", "b"], "page": 2}) == "page=2"
    assert detail_text({"case_ids": ["a"]}) == ""


def test_nested_filters_and_no_detail() -> None:
    assert detail_text({"filters": {"username": "csw", "action": "case.view"}}) == (
        "filters=action:case.view,username:csw"
    )
    assert detail_text({}) == ""
    assert detail_text(None) == ""
