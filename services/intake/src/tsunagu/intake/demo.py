"""Demo data for development and tests: three venues (with their names' readings), their events,
and one login per role.

``python -m tsunagu.intake.demo`` migrates intake's schema and then creates (or refreshes) the
demo data; running it twice changes nothing new. It refuses to run when ``TSUNAGU_ENV=prod``.
``python -m tsunagu.intake.demo --todays-events`` prints today's demo events, one
``EVENT_ID=VENUE_ID=VENUE_NAME`` a line, for the food desk's demo stock.
Every demo account's password is ``TSUNAGU_DEMO_PASSWORD`` (default ``tsunagu-demo``). Admins
need a second factor: the demo admin's TOTP key is ``TSUNAGU_DEMO_TOTP_SECRET`` if set (the test
stack sets it), else a new one, printed for an authenticator app.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import func, or_
from sqlalchemy.dialects.postgresql import insert

from tsunagu.intake.adapters import totp
from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.adapters.passwords import hash_password
from tsunagu.intake.service_layer.keys import master_keys
from tsunagu.intake.service_layer.staff import event_id_for
from tsunagu.shared.clock import japan_today, pin_japan_today
from tsunagu.shared.contracts.codes import PROGRAMME_NAMES_JA, Programme, StaffRole
from tsunagu.shared.db import create_engine, session_factory
from tsunagu.shared.migrations import upgrade
from tsunagu.shared.settings import Settings


@dataclass(frozen=True)
class DemoVenue:
    venue_id: str
    name: str
    address: str
    access: str
    #: The name's reading, in hiragana as an admin's would be stored (normalize.venue_kana).
    name_kana: str


VENUES = (
    DemoVenue(
        "aeon-mall",
        "イオンモール",
        "埼玉県川口市（ショッピングモール内）",
        "駅から路線バス。駐車場あり（無料）",
        "いおんもーる",
    ),
    DemoVenue(
        "higashikawaguchi",
        "東川口駅前行政センター",
        "埼玉県川口市東川口（駅前）",
        "東川口駅から徒歩1分",
        "ひがしかわぐちえきまえぎょうせいせんたー",
    ),
    DemoVenue(
        "clinic-community",
        "クリニック コミュニティスペース",
        "埼玉県川口市（診療所併設）",
        "診療所の1階。車いすで入れます",
        "くりにっく こみゅにてぃすぺーす",
    ),
)
#: Today and every week after, for this many weeks.
WEEKS_AHEAD = 4
OPENS, CLOSES = time(10, 0), time(15, 0)


@dataclass(frozen=True)
class DemoStaff:
    username: str
    display_name: str
    roles: tuple[StaffRole, ...]
    programmes: tuple[Programme, ...] = ()
    venue_id: str | None = VENUES[0].venue_id


def demo_staff() -> list[DemoStaff]:
    people = [
        DemoStaff("admin", "管理者", (StaffRole.ADMIN,), venue_id=None),
        DemoStaff("uketsuke", "受付 担当", (StaffRole.INTAKE,)),
        DemoStaff("food", "食料品配布 リーダー", (StaffRole.FOOD_DESK, StaffRole.FOOD_DESK_LEAD)),
        DemoStaff("haifu", "食料品配布 ボランティア", (StaffRole.FOOD_DESK,)),
        DemoStaff("manager", "事務局長", (StaffRole.MANAGER,), venue_id=None),
        DemoStaff("auditor", "監査 担当", (StaffRole.AUDITOR,), venue_id=None),
    ]
    for programme in Programme:
        roles: tuple[StaffRole, ...] = (StaffRole.PROGRAMME,)
        if programme is Programme.CSW_OUTREACH:
            roles += (StaffRole.COORDINATOR,)  # the CSW coordinates compound cases
        people.append(
            DemoStaff(programme.value, PROGRAMME_NAMES_JA[programme], roles, (programme,))
        )
    return people


def event_dates(today: date) -> list[date]:
    return [today + timedelta(weeks=n) for n in range(WEEKS_AHEAD + 1)]


async def seed(settings: Settings, *, totp_secret: str | None = None) -> dict[str, int]:
    """Create or refresh the demo data; returns what it wrote, by table."""
    if settings.env == "prod":
        raise RuntimeError("demo data is for development and tests only (TSUNAGU_ENV=prod)")
    pin_japan_today(settings.pinned_date)
    today = japan_today()
    password = settings.demo_password.get_secret_value()
    master = master_keys(settings)
    engine = create_engine(settings.database_url, settings.db_schema, pool_size=2)
    counts = {"venue": 0, "consultation_event": 0, "staff_user": 0}
    try:
        async with session_factory(engine)() as session, session.begin():
            v, e, s = tables.venue, tables.consultation_event, tables.staff_user
            for venue in VENUES:
                await session.execute(
                    insert(v)
                    .values(
                        venue_id=venue.venue_id,
                        name=venue.name,
                        name_kana=venue.name_kana,
                        address=venue.address,
                        access=venue.access,
                    )
                    # What an admin changed stays; only what is missing is filled in (a
                    # database seeded before venues had access notes or readings).
                    .on_conflict_do_update(
                        index_elements=[v.c.venue_id],
                        set_={
                            "access": func.coalesce(v.c.access, venue.access),
                            "name_kana": func.coalesce(v.c.name_kana, venue.name_kana),
                        },
                        where=or_(v.c.access.is_(None), v.c.name_kana.is_(None)),
                    )
                )
                counts["venue"] += 1
                for day in event_dates(today):
                    await session.execute(
                        insert(e)
                        .values(
                            event_id=event_id_for(day, venue.venue_id),
                            venue_id=venue.venue_id,
                            event_date=day,
                            opens_at=OPENS,
                            closes_at=CLOSES,
                            programmes=[p.value for p in Programme],
                        )
                        .on_conflict_do_nothing()
                    )
                    counts["consultation_event"] += 1
            for person in demo_staff():
                values = {
                    "display_name": person.display_name,
                    "password_hash": await asyncio.to_thread(hash_password, password),
                    "roles": [r.value for r in person.roles],
                    "programmes": [p.value for p in person.programmes],
                    "venue_id": person.venue_id,
                    "active": True,
                    "password_change_required": False,
                    "totp_secret": (
                        totp.seal(master, totp_secret)
                        if totp_secret and StaffRole.ADMIN in person.roles
                        else None
                    ),
                    "totp_last_step": None,
                }
                # Demo accounts are reset to their definition (and the current demo password).
                await session.execute(
                    insert(s)
                    .values(username=person.username, **values)
                    .on_conflict_do_update(
                        index_elements=[s.c.username], set_={**values, "updated_at": func.now()}
                    )
                )
                counts["staff_user"] += 1
    finally:
        await engine.dispose()
    return counts


def todays_events(today: date) -> list[str]:
    """Today's demo events as ``EVENT_ID=VENUE_ID=VENUE_NAME`` (what the food demo takes)."""
    return [f"{event_id_for(today, v.venue_id)}={v.venue_id}={v.name}" for v in VENUES]


def main() -> None:
    settings = Settings(service="intake")
    if sys.argv[1:] == ["--todays-events"]:
        # For the launcher: which events the other services' demo data belongs to.
        pin_japan_today(settings.pinned_date)
        print("\n".join(todays_events(japan_today())))
        return
    if settings.env == "prod":
        sys.exit("refusing to create demo data: TSUNAGU_ENV=prod")
    upgrade("intake", settings.database_url)
    secret = os.environ.get("TSUNAGU_DEMO_TOTP_SECRET") or totp.new_secret()
    counts = asyncio.run(seed(settings, totp_secret=secret))
    print(", ".join(f"{table}: {n}" for table, n in counts.items()))
    print(f"demo admin's TOTP key (add it to an authenticator app): {secret}")
    print("demo logins: " + ", ".join(p.username for p in demo_staff()))


if __name__ == "__main__":
    main()
