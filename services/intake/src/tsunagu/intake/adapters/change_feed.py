"""What changed in intake's database, pushed to the live pages (board, inbox, case streams).

Triggers on ``case``, ``referral``, ``case_routing`` and ``food_eligibility`` (migration 0008)
``pg_notify`` the channel ``tsunagu_changed_<schema>`` with the changed row's case id; the feed
itself is the shared one (``tsunagu.shared.change_feed``).
"""

from __future__ import annotations

from tsunagu.shared.change_feed import ChangeFeed

__all__ = ["ChangeFeed", "channel_for"]


def channel_for(schema: str | None) -> str:
    return f"tsunagu_changed_{schema or 'public'}"
