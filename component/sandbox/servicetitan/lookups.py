"""The small settings lists a form picks ids from: job types, campaigns, tag types, payment types,
project types, project statuses and sub-statuses.

Read-only: seeded records are listed (and read by id where the spec has a get), with the spec's
``ids``/``name``/``active``/date filters. Job types 2001-2010 and campaigns 3001-3010 are the ones
seeded jobs and bookings refer to; payment types 9001-9003 the ones seeded payments carry; project
statuses 1-3 the ones seeded projects carry, each with two sub-statuses (11-16); project types are
101-104. Job types, payment types and the project lists follow the official response schemas
(``JobTypes_GetList``, ``PaymentTypes_GetList``, ``ProjectTypes_GetList``,
``ProjectStatuses_GetList``, ``ProjectSubStatuses_GetList``); campaigns (marketing) and tag types
(settings) are not in the reference specs, and answer ServiceTitan's common page with ``id``,
``name``, ``active``, ``createdOn`` and ``modifiedOn`` (the fields their picklists read; see
README, "Known unknowns").
"""

from __future__ import annotations

from ..data import Faker, iso
from ..engine import Context, Factory, Filter, Record, Resource
from .dialect import ids_filter
from .records import CAMPAIGN, CUSTOM_FIELD_TYPE, JOB_TYPE, PAYMENT_TYPE, PROJECT_STATUSES, TAG_TYPE

PROJECT_TYPE, PROJECT_SUB_STATUS = 101, 11

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
PROJECT_TYPES = ("Remodel", "New Construction", "System Replacement", "Commercial Build-Out")
SUB_STATUSES = ("Waiting on Permit", "Waiting on Parts")

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


def project_type(f: Faker, n: int, context: Context) -> Record:
    name = PROJECT_TYPES[n % len(PROJECT_TYPES)]
    return {"id": PROJECT_TYPE + n, "name": name, "description": f"{name} projects.", "createdById": None}


def project_status(f: Faker, n: int, context: Context) -> Record:
    status_id, name = PROJECT_STATUSES[n % len(PROJECT_STATUSES)]
    return {"id": status_id, "name": name, "order": n + 1, "modifiedOn": iso(f.past(1500))}


def project_sub_status(f: Faker, n: int, context: Context) -> Record:
    status_id, status = PROJECT_STATUSES[(n // len(SUB_STATUSES)) % len(PROJECT_STATUSES)]
    return {
        "id": PROJECT_SUB_STATUS + n,
        "name": f"{status}: {SUB_STATUSES[n % len(SUB_STATUSES)]}",
        "statusId": status_id,
        "order": n % len(SUB_STATUSES) + 1,
        "modifiedOn": iso(f.past(1500)),
        "active": True,
    }


# Custom field types per record kind: (name, data type, dropdown options).
CUSTOM_FIELDS = (
    ("Gate Code", "Text", None),
    ("Preferred Contact Time", "Dropdown", ["Morning", "Afternoon", "Evening"]),
    ("Square Footage", "Numeric", None),
)


def custom_field_type(stamped: bool) -> Factory:
    """A factory of custom field types; ``stamped``: with ``createdOn``/``modifiedOn`` (all but equipment)."""

    def factory(f: Faker, n: int, context: Context) -> Record:
        name, kind, options = CUSTOM_FIELDS[n % len(CUSTOM_FIELDS)]
        record: Record = {
            "id": CUSTOM_FIELD_TYPE + n,
            "name": name,
            "dataType": kind,
            "dataTypeOptions": list(options) if options else ([] if not stamped else None),
        }
        if stamped:
            created = iso(f.past(1500))
            record.update(createdOn=created, modifiedOn=created)
        return record

    return factory


def custom_field_types(paths: tuple[str, ...], equipment: str) -> tuple[Resource, ...]:
    """``GET …/custom-fields`` of customers, locations, jobs and projects, and equipment's
    ``custom-field-types``. They come before the records' own routes, so that ``custom-fields`` is not
    read as a record id."""
    stamped = {
        "createdBefore": Filter("createdOn", "lt"),
        "createdOnOrAfter": Filter("createdOn", "gte"),
        "modifiedBefore": Filter("modifiedOn", "lt"),
        "modifiedOnOrAfter": Filter("modifiedOn", "gte"),
    }
    found = [
        Resource(
            f"custom_field_types_{index}",
            path,
            seed=len(CUSTOM_FIELDS),
            factory=custom_field_type(True),
            id_base=CUSTOM_FIELD_TYPE,
            filters=stamped,
            ops=frozenset({"list"}),
        )
        for index, path in enumerate(paths)
    ]
    found.append(
        Resource(
            "equipment_custom_field_types",
            equipment,
            seed=len(CUSTOM_FIELDS),
            factory=custom_field_type(False),
            id_base=CUSTOM_FIELD_TYPE,
            ops=frozenset({"list"}),
            timestamps=(None, None),
        )
    )
    return tuple(found)


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
            "project_types",
            f"{jpm}/project-types",
            seed=len(PROJECT_TYPES),
            factory=project_type,
            id_base=PROJECT_TYPE,
            ops=frozenset({"list", "get"}),
            timestamps=(None, None),
        ),
        Resource(
            "project_statuses",
            f"{jpm}/project-statuses",
            seed=len(PROJECT_STATUSES),
            factory=project_status,
            id_base=PROJECT_STATUSES[0][0],
            filters={**_IDS, "name": Filter("name", "contains")},
            ops=frozenset({"list", "get"}),
            timestamps=(None, "modifiedOn"),
        ),
        Resource(
            "project_sub_statuses",
            f"{jpm}/project-substatuses",
            seed=len(PROJECT_STATUSES) * len(SUB_STATUSES),
            factory=project_sub_status,
            id_base=PROJECT_SUB_STATUS,
            filters={
                **_IDS,
                "name": Filter("name", "contains"),
                "statusId": Filter("statusId"),
                **_ACTIVE,
            },
            ops=frozenset({"list", "get"}),
            timestamps=(None, "modifiedOn"),
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
