"""The small settings lists a form picks ids from: job types, campaigns, tag types, payment types.

Read-only: seeded records are listed (and job and payment types read by id), with the spec's
``ids``/``name``/``active``/date filters. Job types 2001-2010 and campaigns 3001-3010 are the ones
seeded jobs and bookings refer to; payment types 9001-9003 the ones seeded payments carry. Job types
and payment types follow the official response schemas (``JobTypes_GetList``,
``PaymentTypes_GetList``); campaigns (marketing) and tag types (settings) are not in the reference
specs, and answer ServiceTitan's common page with ``id``, ``name``, ``active``, ``createdOn`` and
``modifiedOn`` (the fields their picklists read; see README, "Known unknowns").
"""

from __future__ import annotations

from ..data import Faker, iso
from ..engine import Context, Factory, Filter, Record, Resource
from .dialect import ids_filter
from .records import CAMPAIGN, JOB_TYPE, PAYMENT_TYPE, TAG_TYPE

JOB_TYPES = (
    ("AC Repair", "High", 7200),
    ("AC Install", "Normal", 28800),
    ("Furnace Tune-Up", "Normal", 5400),
    ("Water Heater Repair", "High", 7200),
    ("Drain Cleaning", "Normal", 3600),
    ("Leak Detection", "Urgent", 5400),
    ("Panel Upgrade", "Normal", 14400),
    ("Outlet Repair", "Low", 3600),
    ("Maintenance Visit", "Low", 3600),
    ("Estimate", "Normal", 3600),
)
CAMPAIGNS = (
    "Google Ads",
    "Website",
    "Referral",
    "Yard Signs",
    "Direct Mail",
    "Facebook",
    "Repeat Customer",
    "Radio",
    "Home Show",
    "Existing Customer Call-In",
)
TAG_TYPES = (
    "VIP",
    "Warranty",
    "Member",
    "Do Not Call",
    "Commercial",
    "New Construction",
    "Pets",
    "Gate Code",
)
PAYMENT_TYPES = ("Cash", "Check", "Credit Card")

_IDS = {"ids": Filter("id", custom=ids_filter, index=True)}
_STAMPS = {
    "createdBefore": Filter("createdOn", "lt"),
    "createdOnOrAfter": Filter("createdOn", "gte"),
    "modifiedBefore": Filter("modifiedOn", "lt"),
    "modifiedOnOrAfter": Filter("modifiedOn", "gte"),
}
_ACTIVE = {"active": Filter("active", "active", default="True")}


def job_type(f: Faker, n: int, context: Context) -> Record:
    created = iso(f.past(1500))
    name, priority, duration = JOB_TYPES[n % len(JOB_TYPES)]
    return {
        "id": JOB_TYPE + n,
        "name": name,
        "businessUnitIds": [],
        "skills": [],
        "tagTypeIds": [],
        "priority": priority,
        "duration": duration,
        "soldThreshold": None,
        "class": "Service",
        "summary": f"{name} visit.",
        "noCharge": False,
        "enforceRecurringServiceEventSelection": None,
        "invoiceSignaturesRequired": False,
        "modifiedOn": created,
        "createdOn": created,
        "externalData": [],
        "active": True,
        "isSmartDispatched": False,
    }


def named(base: int, names: tuple[str, ...]) -> Factory:
    """A factory of ``{id, name, active, createdOn, modifiedOn}`` records named from ``names``."""

    def factory(f: Faker, n: int, context: Context) -> Record:
        created = iso(f.past(1500))
        return {
            "id": base + n,
            "name": names[n % len(names)],
            "active": True,
            "createdOn": created,
            "modifiedOn": created,
        }

    return factory


def payment_type(f: Faker, n: int, context: Context) -> Record:
    created = iso(f.past(1500))
    return {
        "id": PAYMENT_TYPE + n,
        "name": PAYMENT_TYPES[n % len(PAYMENT_TYPES)],
        "modifiedOn": created,
        "createdOn": created,
    }


def resources(jpm: str, marketing: str, settings: str, accounting: str) -> tuple[Resource, ...]:
    """The lookup lists under each module's tenant path."""
    return (
        Resource(
            "job_types",
            f"{jpm}/job-types",
            seed=len(JOB_TYPES),
            factory=job_type,
            id_base=JOB_TYPE,
            filters={
                **_IDS,
                "name": Filter("name", "contains"),
                "priority": Filter("priority", "ieq"),
                **_ACTIVE,
            }
            | _STAMPS,
            ops=frozenset({"list", "get"}),
        ),
        Resource(
            "campaigns",
            f"{marketing}/campaigns",
            seed=len(CAMPAIGNS),
            factory=named(CAMPAIGN, CAMPAIGNS),
            id_base=CAMPAIGN,
            filters={**_IDS, "name": Filter("name", "contains"), **_ACTIVE, **_STAMPS},
            ops=frozenset({"list"}),
        ),
        Resource(
            "tag_types",
            f"{settings}/tag-types",
            seed=len(TAG_TYPES),
            factory=named(TAG_TYPE, TAG_TYPES),
            id_base=TAG_TYPE,
            filters={**_IDS, "name": Filter("name", "contains"), **_ACTIVE, **_STAMPS},
            ops=frozenset({"list"}),
        ),
        Resource(
            "payment_types",
            f"{accounting}/payment-types",
            seed=len(PAYMENT_TYPES),
            factory=payment_type,
            id_base=PAYMENT_TYPE,
            filters={
                **_IDS,
                "createdBefore": Filter("createdOn", "lt"),
                "createdOnOrAfter": Filter("createdOn", "gte"),
            },
            ops=frozenset({"list", "get"}),
        ),
    )
