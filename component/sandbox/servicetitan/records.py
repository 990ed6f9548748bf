"""Seeded ServiceTitan records and the record shapes that creates share with them.

Each record is built from ``(seed, tenant, resource, n)`` alone and follows the official response
schema of its list and get endpoints. Related records agree without generating each other: job
``400001+n`` belongs to customer ``100001+n`` at location ``200001+n``; its first appointment is
``500001+n``; the first 1,000 jobs also have a second appointment, ``500001+12000+n``; appointment
``500001+m`` has assignment ``1200001+m``; the job's invoice is ``700001+n`` with items
``800001+3n`` … (one to three); payment ``900001+n`` pays invoice ``700001+n``; project ``600001+n``
holds job ``400001+n``; customer ``100001+n`` (n < 1,000) has contacts ``300001+2n`` (phone) and
``300002+2n`` (email).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..data import Faker, Person, iso
from ..engine import Context, Record

BUSINESS_UNIT, JOB_TYPE, CAMPAIGN, TECHNICIAN, USER_ROLE = 1001, 2001, 3001, 4001, 5001
CANCEL_REASON, BOOKING_PROVIDER, TAG_TYPE, PAYMENT_TYPE, CUSTOM_FIELD_TYPE = 6001, 7001, 8001, 9001, 8101
CUSTOMER, LOCATION, CONTACT, JOB, APPOINTMENT = 100001, 200001, 300001, 400001, 500001
PROJECT, INVOICE, INVOICE_ITEM, PAYMENT, EQUIPMENT = 600001, 700001, 800001, 900001, 1000001
BOOKING, ASSIGNMENT, LOCATION_CONTACT = 1100001, 1200001, 1300001
ITEMS_PER_INVOICE = 3  # item id slots per seeded invoice
SEEDED = 12_000  # customers, locations, jobs, invoices: past the 10,000 picklist cap
SECOND_APPOINTMENTS = 1_000  # jobs 400001..401000 have two appointments
CONTACT_CUSTOMERS = 1_000  # customers with two seeded contacts

BUSINESS_UNITS = (
    "HVAC Service",
    "HVAC Install",
    "Plumbing Service",
    "Plumbing Install",
    "Electrical Service",
    "Electrical Install",
    "Drain Cleaning",
    "Water Treatment",
    "Maintenance Plans",
    "Commercial Service",
)
USER_ROLES = (
    ("Technician", "Technician"),
    ("Lead Technician", "Technician"),
    ("Installer", "Technician"),
    ("Dispatcher", "Employee"),
    ("Customer Service Representative", "Employee"),
    ("Office Manager", "Employee"),
    ("Accounting", "Employee"),
    ("Administrator", "Employee"),
)
CANCEL_REASONS = (
    "Customer canceled",
    "Scheduled with another company",
    "Price too high",
    "Customer no-show",
    "Duplicate booking",
    "Weather",
)
JOB_STATUSES = ("Scheduled", "Dispatched", "InProgress", "Completed", "Completed", "Canceled")
APPOINTMENT_STATUS = {
    "Scheduled": "Scheduled",
    "Dispatched": "Dispatched",
    "InProgress": "Working",
    "Hold": "Hold",
    "Completed": "Done",
    "Canceled": "Canceled",
}
ASSIGNMENT_STATUS = {
    "Scheduled": "Scheduled",
    "Dispatched": "Dispatched",
    "Working": "Working",
    "Done": "Done",
}
PRIORITIES = ("Low", "Normal", "Normal", "High", "Urgent")
PROJECT_STATUSES = ((1, "Open"), (2, "In Progress"), (3, "Completed"))
EQUIPMENT_TYPES = (
    (1, "Furnace", "Carrier", "59SC5A080S17"),
    (2, "Air Conditioner", "Trane", "4TTR4036L1000A"),
    (3, "Heat Pump", "Lennox", "XP17-036"),
    (4, "Water Heater", "Rheem", "XG50T06EC36U1"),
    (5, "Air Handler", "Goodman", "AMST36BU1300"),
    (6, "Boiler", "Weil-McLain", "CGa-4"),
    (7, "Thermostat", "Honeywell", "T6 Pro"),
)
BOOKING_SOURCES = ("Website", "Google Local Services", "Angi", "Phone")
ATTACHMENTS = "installed-equipment/attachments"  # where uploaded files are kept (their ``path``)
SAMPLE_FILE = f"{ATTACHMENTS}/sample.txt"  # a file every tenant has, attached to equipment 1000001
SAMPLE_FILES: dict[str, Record] = {
    SAMPLE_FILE: {
        "path": SAMPLE_FILE,
        "_content": b"Carrier 59SC5A080S17 furnace nameplate, serial CA48213377\n",
        "_type": "text/plain",
    }
}


def faker(context: Context, resource: str, n: int) -> Faker:
    """A record's generator keyed by another resource, so related records share values."""
    sandbox = context.partition.sandbox
    return Faker(sandbox.seed, f"{context.partition.key}:{resource}", n, sandbox.today)


def household(context: Context, n: int) -> tuple[Person, str | None]:
    """Customer ``n``'s person and, for a business, its company name (shared with its location,
    job, invoice and payment; made once per tenant)."""
    cache = context.partition.sandbox.extra.setdefault(f"households:{context.partition.key}", {})
    found: tuple[Person, str | None] | None = cache.get(n)
    if found is None:
        f = faker(context, "households", n)
        person = f.person()
        found = cache[n] = (person, f.company() if f.chance(0.15) else None)
    return found


def links(context: Context, name: str) -> dict[Any, Any]:
    """A per-tenant relation kept beside the records (a job's appointment ids …), so the records a
    list answers carry no internal fields to strip."""
    key = f"{name}:{context.partition.key}"
    table: dict[Any, Any] = context.partition.sandbox.extra.setdefault(key, {})
    return table


def money(value: float) -> str:
    return f"{value:.2f}"


def custom_fields(items: Any, *, named: bool = True) -> list[Record]:
    """Request custom fields ``[{typeId, value}]`` as a response lists them (with the type's name)."""
    out = []
    for item in items or []:
        if isinstance(item, dict) and item.get("typeId") is not None:
            field = {
                "typeId": item["typeId"],
                "value": "" if item.get("value") is None else str(item["value"]),
            }
            if named:
                field["name"] = f"Custom field {item['typeId']}"
            out.append(field)
    return out


def external_data(body: Any) -> list[Record]:
    items = body.get("externalData") if isinstance(body, dict) else None
    return [
        {"key": str(item.get("key", "")), "value": str(item.get("value") or "")}
        for item in items or []
        if isinstance(item, dict)
    ]


def address(person: Person, *, coordinates: bool = True) -> Record:
    out: Record = {
        "street": person.street,
        "unit": None,
        "city": person.city,
        "state": person.state,
        "zip": person.zip,
        "country": "USA",
    }
    if coordinates:
        out.update(latitude=None, longitude=None)
    return out


# --- settings ------------------------------------------------------------------------------------------


def business_unit(f: Faker, n: int, context: Context) -> Record:
    created = iso(f.past(1500))
    name = BUSINESS_UNITS[n % len(BUSINESS_UNITS)]
    return {
        "id": BUSINESS_UNIT + n,
        "active": True,
        "name": name,
        "officialName": f"Sandbox Home Services - {name}",
        "email": f"{name.lower().replace(' ', '.')}@home-services.sandbox.example.com",
        "currency": "USD",
        "phoneNumber": "+13035550100",
        "invoiceHeader": None,
        "invoiceMessage": "Thank you for your business!",
        "defaultTaxRate": 0.0,
        "authorizationParagraph": None,
        "acknowledgementParagraph": None,
        "address": None,
        "materialSku": None,
        "quickbooksClass": None,
        "accountCode": f"BU{n + 1:02d}",
        "franchiseId": None,
        "conceptCode": None,
        "corporateContractNumber": None,
        "trade": None,
        "division": None,
        "tagTypeIds": [],
        "tenant": None,
        "createdOn": created,
        "modifiedOn": created,
        "externalData": None,
    }


def user_role(f: Faker, n: int, context: Context) -> Record:
    name, kind = USER_ROLES[n % len(USER_ROLES)]
    return {
        "id": USER_ROLE + n,
        "active": True,
        "name": name,
        "createdOn": iso(f.past(1500)),
        "employeeType": kind,
    }


def cancel_reason(f: Faker, n: int, context: Context) -> Record:
    created = iso(f.past(1500))
    return {
        "id": CANCEL_REASON + n,
        "name": CANCEL_REASONS[n % len(CANCEL_REASONS)],
        "active": n % len(CANCEL_REASONS) != len(CANCEL_REASONS) - 1,
        "createdOn": created,
        "modifiedOn": created,
    }


def technician_record(technician_id: int, body: Record, now: str) -> Record:
    name = str(body.get("name") or "")
    first, _, last = name.partition(" ")
    role = body.get("roleId")
    return {
        "id": technician_id,
        "userId": 90000 + technician_id - TECHNICIAN + 1,
        "name": name,
        "roleIds": [role] if role is not None else [],
        "businessUnitId": body.get("businessUnitId"),
        "mainZoneId": None,
        "zoneIds": [],
        "createdOn": now,
        "modifiedOn": now,
        "email": body.get("email"),
        "phoneNumber": body.get("phoneNumber"),
        "loginName": body.get("login"),
        "home": body.get("home"),
        "dailyGoal": float(body.get("dailyGoal") or 0),
        "isManagedTech": body.get("licenseType") in ("ManagedTech", "ManagedInstaller"),
        "licenseType": body.get("licenseType"),
        "customFields": custom_fields(body.get("customFields")),
        "active": True,
        "aadUserId": body.get("aadUserId"),
        "burdenRate": float(body.get("burdenRate") or 0),
        "team": body.get("team"),
        "jobFilter": body.get("jobFilter"),
        "accountLocked": False,
        "commissionRate": 0.0,
        "firstName": first or None,
        "lastName": last or None,
        "hourlyRate": 0.0,
        "soldByRate": 0.0,
        "status": "Idle",
        "positions": list(body.get("positions") or []),
        "bio": body.get("bio"),
        "memo": body.get("memo"),
    }


def technician(f: Faker, n: int, context: Context) -> Record:
    p = f.person()
    created = f.past(1500)
    record = technician_record(
        TECHNICIAN + n,
        {
            "name": p.name,
            "roleId": USER_ROLE + n % 3,
            "businessUnitId": BUSINESS_UNIT + n % len(BUSINESS_UNITS),
            "email": p.email,
            "phoneNumber": p.phone,
            "login": f"{p.first}.{p.last}{n}".lower(),
            "licenseType": "ManagedTech" if n % 5 == 0 else "NonManagedTech",
            "dailyGoal": 1500,
            "positions": ["Installer"] if n % 4 == 3 else ["Service"],
        },
        iso(created),
    )
    record.update(
        modifiedOn=iso(f.touched(created)),
        active=n % 10 != 9,
        hourlyRate=float(28 + n % 12),
        status=("Idle", "Dispatched", "Working", "Meal")[n % 4],
    )
    return record


# --- customers and locations ---------------------------------------------------------------------------


def customer_record(customer_id: int, body: Record, now: str) -> Record:
    return {
        "id": customer_id,
        "active": True,
        "name": body["name"],
        "type": body.get("type") or "Residential",
        "address": {**address_from(body["address"]), "latitude": None, "longitude": None}
        | {
            k: body["address"].get(k) for k in ("latitude", "longitude") if body["address"].get(k) is not None
        },
        "customFields": custom_fields(body.get("customFields")),
        "balance": 0.0,
        "taxExempt": bool(body.get("taxExempt")),
        "tagTypeIds": list(body.get("tagTypeIds") or []),
        "doNotMail": bool(body.get("doNotMail")),
        "doNotService": bool(body.get("doNotService")),
        "nationalAccount": bool(body.get("nationalAccount")),
        "createdOn": now,
        "createdById": 1,
        "modifiedOn": now,
        "mergedToId": None,
        "paymentTermId": body.get("paymentTermId"),
        "creditLimit": body.get("creditLimit"),
        "creditLimitBalance": body.get("creditLimitBalance"),
        "externalData": external_data(body.get("externalData")),
    }


def address_from(given: Record) -> Record:
    return {
        "street": str(given.get("street") or ""),
        "unit": given.get("unit"),
        "city": str(given.get("city") or ""),
        "state": str(given.get("state") or ""),
        "zip": str(given.get("zip") or ""),
        "country": str(given.get("country") or ""),
    }


def customer(f: Faker, n: int, context: Context) -> Record:
    person, company = household(context, n)
    created = f.past()
    body = {"name": company or person.name, "type": "Commercial" if company else "Residential"}
    record = customer_record(CUSTOMER + n, {**body, "address": address(person)}, iso(created))
    record.update(active=not f.chance(0.03), modifiedOn=iso(f.touched(created)), doNotMail=f.chance(0.1))
    return record


def location_record(location_id: int, customer_id: int, body: Record, now: str) -> Record:
    given = body.get("address") or {}
    return {
        "id": location_id,
        "customerId": customer_id,
        "active": True,
        "name": body["name"],
        "address": {
            **address_from(given),
            "latitude": given.get("latitude"),
            "longitude": given.get("longitude"),
        },
        "customFields": custom_fields(body.get("customFields")),
        "createdOn": now,
        "createdById": 1,
        "modifiedOn": now,
        "mergedToId": None,
        "zoneId": None,
        "taxExempt": False,
        "tagTypeIds": list(body.get("tagTypeIds") or []),
        "externalData": external_data(body.get("externalData")),
        "taxZoneId": None,
    }


def location(f: Faker, n: int, context: Context) -> Record:
    person, company = household(context, n)
    created = f.past()
    name = company or person.name
    record = location_record(
        LOCATION + n, CUSTOMER + n, {"name": name, "address": address(person)}, iso(created)
    )
    record["modifiedOn"] = iso(f.touched(created))
    return record


def contact_record(contact_id: int, customer_id: int, body: Record, now: str) -> Record:
    value = str(body["value"])
    phone = body.get("type") in ("Phone", "MobilePhone", "Fax")
    return {
        "id": contact_id,
        "type": body["type"],
        "value": value,
        "memo": body.get("memo"),
        "modifiedOn": now,
        "phoneSettings": {"phoneNumber": value if phone else "", "doNotText": False},
        "createdOn": now,
        "preferences": {
            "jobRemindersEnabled": True,
            "marketingUpdatesEnabled": False,
            "invoiceStatementNotification": True,
        },
        "customerId": customer_id,
    }


def contact(f: Faker, n: int, context: Context) -> Record:
    person, _ = household(context, n // 2)
    phone = n % 2 == 0
    body = {
        "type": "MobilePhone" if phone else "Email",
        "value": person.phone if phone else person.email,
        "memo": "Cell" if phone else None,
    }
    return contact_record(CONTACT + n, CUSTOMER + n // 2, body, iso(f.past()))


# --- jobs, appointments, assignments -------------------------------------------------------------------


def job_record(job_id: int, body: Record, created: str, appointments: list[int], invoice: int) -> Record:
    return {
        "id": job_id,
        "jobNumber": str(job_id),
        "projectId": body.get("projectId"),
        "customerId": body["customerId"],
        "locationId": body["locationId"],
        "jobStatus": "Scheduled",
        "completedOn": None,
        "businessUnitId": body["businessUnitId"],
        "jobTypeId": body["jobTypeId"],
        "priority": body.get("priority") or "Normal",
        "campaignId": body["campaignId"],
        "appointmentCount": len(appointments),
        "firstAppointmentId": appointments[0] if appointments else 0,
        "lastAppointmentId": appointments[-1] if appointments else 0,
        "recallForId": None,
        "warrantyId": None,
        "jobGeneratedLeadSource": body.get("jobGeneratedLeadSource"),
        "noCharge": False,
        "notificationsEnabled": True,
        "createdOn": created,
        "createdById": 1,
        "modifiedOn": created,
        "tagTypeIds": list(body.get("tagTypeIds") or []),
        "leadCallId": None,
        "partnerLeadCallId": body.get("partnerLeadCallId"),
        "bookingId": body.get("bookingId"),
        "soldById": body.get("soldById"),
        "customerPo": str(body.get("customerPo") or ""),
        "invoiceId": invoice,
        "membershipId": None,
        "total": 0.0,
        "createdFromEstimateId": None,
        "estimateIds": [],
        "summary": body.get("summary"),
        "customFields": custom_fields(body.get("customFields")),
        "externalData": external_data(body.get("externalData")),
    }


def seeded_appointments(context: Context, n: int) -> list[int]:
    """The appointment ids of seeded job ``n``: its first, and a second for the first jobs."""
    jobs, appointments = context["jobs"].seeded, context["appointments"].seeded
    second = [APPOINTMENT + jobs + n] if n < appointments - jobs else []
    return [APPOINTMENT + n, *second]


def appointment_ids(context: Context, job_id: int) -> list[int]:
    """The job's appointment ids, in order (the list is the one kept: change it in place)."""
    table = links(context, "job-appointments")
    if job_id not in table:
        n = job_id - JOB
        table[job_id] = seeded_appointments(context, n) if 0 <= n < context["jobs"].seeded else []
    found: list[int] = table[job_id]
    return found


def assignment_ids(context: Context, appointment_id: int) -> list[int]:
    """The appointment's assignment ids (the list is the one kept: change it in place)."""
    table = links(context, "appointment-assignments")
    if appointment_id not in table:
        n = appointment_id - APPOINTMENT
        table[appointment_id] = [ASSIGNMENT + n] if 0 <= n < context["appointments"].seeded else []
    found: list[int] = table[appointment_id]
    return found


def job(f: Faker, n: int, context: Context) -> Record:
    created = f.past(365)
    status = JOB_STATUSES[n % len(JOB_STATUSES)]
    body = {
        "customerId": CUSTOMER + n,
        "locationId": LOCATION + n,
        "businessUnitId": BUSINESS_UNIT + n % len(BUSINESS_UNITS),
        "jobTypeId": JOB_TYPE + n % 10,
        "campaignId": CAMPAIGN + n % 10,
        "priority": PRIORITIES[n % len(PRIORITIES)],
        "summary": f.service()[0],
        "projectId": PROJECT + n if n < context["projects"].seeded else None,
        "customerPo": f"PO-{20000 + n}" if n % 7 == 0 else None,
    }
    record = job_record(JOB + n, body, iso(created), seeded_appointments(context, n), INVOICE + n)
    modified = f.touched(created, 30)
    record.update(
        jobStatus=status,
        modifiedOn=iso(modified),
        completedOn=iso(modified) if status == "Completed" else None,
        total=float(seeded_total(context, n)),
    )
    return record


def appointment_record(appointment_id: int, job: Record, body: Record, created: str, number: int) -> Record:
    return {
        "id": appointment_id,
        "jobId": job["id"],
        "appointmentNumber": f"{job['jobNumber']}-{number}",
        "start": body["start"],
        "end": body["end"],
        "arrivalWindowStart": body.get("arrivalWindowStart"),
        "arrivalWindowEnd": body.get("arrivalWindowEnd"),
        "status": "Scheduled",
        "specialInstructions": body.get("specialInstructions"),
        "createdOn": created,
        "modifiedOn": created,
        "customerId": job["customerId"],
        "unused": False,
        "createdById": 1,
        "isConfirmed": False,
        "active": True,
    }


def appointment(f: Faker, n: int, context: Context) -> Record:
    jobs = context["jobs"].seeded
    job_n, number = (n, 1) if n < jobs else (n - jobs, 2)
    start = f.around(60)
    window = {
        "start": iso(start),
        "end": iso(start + timedelta(hours=2)),
        "arrivalWindowStart": iso(start),
        "arrivalWindowEnd": iso(start + timedelta(hours=4)),
    }
    owner = {"id": JOB + job_n, "jobNumber": str(JOB + job_n), "customerId": CUSTOMER + job_n}
    created = f.past(365)
    record = appointment_record(APPOINTMENT + n, owner, window, iso(created), number)
    status = APPOINTMENT_STATUS[JOB_STATUSES[job_n % len(JOB_STATUSES)]]
    record.update(
        status=status,
        modifiedOn=iso(f.touched(created, 30)),
        isConfirmed=status != "Scheduled",
    )
    return record


def assignment_record(assignment_id: int, appointment: Record, technician: Record, now: str) -> Record:
    return {
        "id": assignment_id,
        "technicianId": technician["id"],
        "technicianName": technician["name"],
        "assignedById": 1,
        "assignedOn": now,
        "status": ASSIGNMENT_STATUS.get(appointment["status"], "Scheduled"),
        "isPaused": False,
        "jobId": appointment["jobId"],
        "appointmentId": appointment["id"],
        "createdOn": now,
        "modifiedOn": now,
        "active": True,
    }


def assignment(f: Faker, n: int, context: Context) -> Record:
    technicians = context["technicians"]
    tech = technicians.get(TECHNICIAN + n % max(1, technicians.seeded)) or {
        "id": TECHNICIAN,
        "name": "Technician",
    }
    jobs = context["jobs"].seeded
    job_n = n if n < jobs else n - jobs
    status = APPOINTMENT_STATUS[JOB_STATUSES[job_n % len(JOB_STATUSES)]]
    owner = {"id": APPOINTMENT + n, "jobId": JOB + job_n, "status": status}
    record = assignment_record(ASSIGNMENT + n, owner, tech, iso(f.past(365)))
    record["active"] = status != "Canceled"
    return record


# --- projects, equipment, bookings ---------------------------------------------------------------------


def project_record(project_id: int, body: Record, now: str) -> Record:
    status = dict(PROJECT_STATUSES).get(body.get("statusId") or 0)
    return {
        "id": project_id,
        "number": str(project_id),
        "name": body.get("name"),
        "summary": body.get("summary"),
        "status": status,
        "statusId": body.get("statusId") if status else None,
        "subStatus": None,
        "subStatusId": body.get("subStatusId"),
        "customerId": body["customerId"],
        "locationId": body["locationId"],
        "projectTypeId": body.get("projectTypeId"),
        "projectManagerIds": list(body.get("projectManagerIds") or []),
        "businessUnitIds": list(body.get("businessUnitIds") or []),
        "startDate": body.get("startDate"),
        "targetCompletionDate": body.get("targetCompletionDate"),
        "actualCompletionDate": body.get("actualCompletionDate"),
        "modifiedOn": now,
        "createdOn": now,
        "customFields": custom_fields(body.get("customFields")),
        "externalData": external_data(body.get("externalData")),
        "jobIds": list(body.get("jobIds") or []),
    }


def project(f: Faker, n: int, context: Context) -> Record:
    person, company = household(context, n)
    created = f.past(365)
    start = f.later(created, 20)
    status_id = PROJECT_STATUSES[n % len(PROJECT_STATUSES)][0]
    body = {
        "name": f"{(company or person.last)} - {f.service()[0]}",
        "summary": "Replace and upgrade the existing system.",
        "statusId": status_id,
        "customerId": CUSTOMER + n,
        "locationId": LOCATION + n,
        "projectManagerIds": [TECHNICIAN + n % 5],
        "businessUnitIds": [BUSINESS_UNIT + n % len(BUSINESS_UNITS)],
        "startDate": iso(start),
        "targetCompletionDate": iso(start + timedelta(days=30)),
        "actualCompletionDate": iso(start + timedelta(days=25)) if status_id == 3 else None,
        "jobIds": [JOB + n] if n < context["jobs"].seeded else [],
    }
    record = project_record(PROJECT + n, body, iso(created))
    record["modifiedOn"] = iso(f.touched(start, 20))
    return record


def equipment_record(equipment_id: int, location: Record, body: Record, now: str) -> Record:
    type_id = body.get("equipmentTypeId")
    named = next((t for t in EQUIPMENT_TYPES if t[0] == type_id), None)
    return {
        "id": equipment_id,
        "active": True,
        "equipmentId": None,
        "locationId": location["id"],
        "customerId": location["customerId"],
        "invoiceItemId": None,
        "name": str(body.get("name") or (named[1] if named else "Equipment")),
        "type": {"id": type_id, "name": named[1] if named else None} if type_id is not None else None,
        "installedOn": body.get("installedOn"),
        "createdOn": now,
        "modifiedOn": now,
        "serialNumber": str(body.get("serialNumber") or ""),
        "barcodeId": body.get("barcodeId"),
        "memo": str(body.get("memo") or ""),
        "manufacturer": str(body.get("manufacturer") or ""),
        "model": str(body.get("model") or ""),
        "cost": float(body.get("cost") or 0),
        "status": body.get("status") or "Installed",
        "manufacturerWarrantyStart": body.get("manufacturerWarrantyStart"),
        "manufacturerWarrantyEnd": body.get("manufacturerWarrantyEnd"),
        "serviceProviderWarrantyStart": body.get("serviceProviderWarrantyStart"),
        "serviceProviderWarrantyEnd": body.get("serviceProviderWarrantyEnd"),
        "tags": [],
        "actualReplacementDate": body.get("actualReplacementDate"),
        "predictedReplacementMonths": None,
        "predictedReplacementDate": None,
        "_customFields": [],
        "_attachments": [],
    }


def installed_equipment(f: Faker, n: int, context: Context) -> Record:
    type_id, name, maker, model = EQUIPMENT_TYPES[n % len(EQUIPMENT_TYPES)]
    installed = f.past(3650)
    created = f.touched(installed, 5)
    body = {
        "name": name,
        "equipmentTypeId": type_id,
        "installedOn": iso(installed),
        "serialNumber": f"{maker[:2].upper()}{f.random.randrange(10**7, 10**8)}",
        "memo": "Installed by the sandbox crew.",
        "manufacturer": maker,
        "model": model,
        "cost": f.money(150, 6500),
        "manufacturerWarrantyStart": iso(installed),
        "manufacturerWarrantyEnd": iso(installed + timedelta(days=3650)),
    }
    owner = {"id": LOCATION + n, "customerId": CUSTOMER + n}
    record = equipment_record(EQUIPMENT + n, owner, body, iso(created))
    record["modifiedOn"] = iso(f.touched(created, 400))
    if n == 0:
        record["_attachments"] = [
            {"alias": "Nameplate", "fileName": "sample.txt", "type": "Document", "url": SAMPLE_FILE}
        ]
    return record


def booking_record(booking_id: int, provider: int, body: Record, now: str) -> Record:
    given = body.get("address")
    return {
        "id": booking_id,
        "source": body["source"],
        "createdOn": now,
        "name": body["name"],
        "address": address_from(given) if isinstance(given, dict) else None,
        "customerType": body.get("customerType"),
        "start": body.get("start") or now,
        "campaignId": body.get("campaignId"),
        "businessUnitId": body.get("businessUnitId"),
        "isFirstTimeClient": body.get("isFirstTimeClient"),
        "uploadedImages": list(body.get("uploadedImages") or []),
        "isSendConfirmationEmail": body.get("isSendConfirmationEmail"),
        "status": "New",
        "dismissingReasonId": None,
        "jobId": None,
        "externalId": str(body["externalId"]),
        "priority": body.get("priority"),
        "jobTypeId": body.get("jobTypeId"),
        "bookingProviderId": provider,
        "modifiedOn": now,
        "summary": body.get("summary"),
    }


def booking(f: Faker, n: int, context: Context) -> Record:
    person = f.person()
    created = f.past(120)
    service = f.service()[0]
    body = {
        "source": BOOKING_SOURCES[n % len(BOOKING_SOURCES)],
        "name": person.name,
        "address": address(person, coordinates=False),
        "customerType": "Residential",
        "start": iso(f.around(20)),
        "campaignId": CAMPAIGN + n % 10,
        "businessUnitId": BUSINESS_UNIT + n % len(BUSINESS_UNITS),
        "isFirstTimeClient": n % 3 == 0,
        "summary": f"{service} requested online",
        "externalId": f"BK-{50000 + n}",
        "priority": PRIORITIES[n % len(PRIORITIES)],
        "jobTypeId": JOB_TYPE + n % 10,
    }
    record = booking_record(BOOKING + n, BOOKING_PROVIDER + n % 3, body, iso(created))
    record.update(
        status=("New", "New", "Converted", "Dismissed")[n % 4], modifiedOn=iso(f.touched(created, 10))
    )
    return record


# --- accounting ----------------------------------------------------------------------------------------


def item_record(item_id: int, body: Record, now: str, order: int) -> Record:
    quantity = float(body.get("quantity") or 0)
    price = float(body.get("unitPrice") or 0)
    cost = float(body.get("cost") or 0)
    return {
        "id": item_id,
        "description": body.get("description"),
        "quantity": money(quantity),
        "cost": money(cost),
        "totalCost": money(cost * quantity),
        "budgetCodeId": body.get("budgetCodeId"),
        "inventoryLocationId": body.get("inventoryLocationId"),
        "inventoryLocation": None,
        "price": money(price),
        "type": "Service",
        "skuName": body.get("skuName"),
        "skuId": int(body.get("skuId") or 0),
        "total": money(price * quantity),
        "inventory": False,
        "taxable": False,
        "isChargeable": True,
        "generalLedgerAccount": None,
        "costOfSaleAccount": None,
        "assetAccount": None,
        "membershipTypeId": 0,
        "itemGroup": None,
        "displayName": body.get("skuName"),
        "soldHours": None,
        "createdOn": now,
        "modifiedOn": now,
        "serviceDate": body.get("installedOn"),
        "order": order,
        "businessUnit": None,
        "createdById": 1,
        "displayInAmount": None,
        "importId": None,
        "exportId": None,
        "inventoryStatus": None,
        "addOn": bool(body.get("isAddOn")),
        "memberPrice": None,
        "technicianId": body.get("technicianId"),
        "installedEquipmentId": None,
        "estimateItemId": None,
    }


def seeded_items(context: Context, n: int, created: str) -> list[Record]:
    """Invoice ``700001+n``'s items (one to three): ids ``800001+3n`` onwards."""
    f = faker(context, "invoice-items", n)
    items = []
    for k in range(1 + n % ITEMS_PER_INVOICE):
        name, price = f.service()
        body = {"skuId": 30001 + k, "skuName": name, "description": name, "quantity": 1, "unitPrice": price}
        body["cost"] = round(price * 0.4, 2)
        items.append(item_record(INVOICE_ITEM + ITEMS_PER_INVOICE * n + k, body, created, k + 1))
    return items


def seeded_total(context: Context, n: int) -> str:
    """What :func:`seeded_items` adds up to, without building the items."""
    f = faker(context, "invoice-items", n)
    return money(sum(f.service()[1] for _ in range(1 + n % ITEMS_PER_INVOICE)))


def invoice_total(items: list[Record]) -> str:
    return money(sum(float(item["total"]) for item in items))


def invoice_record(
    invoice_id: int, job: Record, created: str, names: tuple[str | None, str | None]
) -> Record:
    return {
        "id": invoice_id,
        "syncStatus": "Pending",
        "budgetCodeId": None,
        "referenceNumber": job["jobNumber"],
        "invoiceDate": created,
        "dueDate": created,
        "subTotal": "0.00",
        "salesTax": "0.00",
        "salesTaxCode": None,
        "taxZoneId": None,
        "total": "0.00",
        "balance": "0.00",
        "invoiceType": None,
        "customer": {"id": job["customerId"], "name": names[0]},
        "customerAddress": None,
        "location": {"id": job["locationId"], "name": names[1]},
        "locationAddress": None,
        "businessUnit": {"id": job["businessUnitId"], "name": None},
        "termName": "Due Upon Receipt",
        "createdBy": "Sandbox Office",
        "batch": None,
        "depositedOn": None,
        "createdOn": created,
        "modifiedOn": created,
        "adjustmentToId": None,
        "job": {"id": job["id"], "number": job["jobNumber"], "type": None},
        "projectId": job.get("projectId"),
        "royalty": None,
        "employeeInfo": None,
        "commissionEligibilityDate": None,
        "sentStatus": "NotSent",
        "reviewStatus": "NeedsReview",
        "assignedTo": None,
        "summary": job.get("summary"),
        "items": [],
        "customFields": [],
        "active": True,
        "discountTotal": "0.00",
        "importId": None,
        "exportId": None,
        "materialSkuId": None,
        "membershipId": None,
        "paidOn": None,
        "invoiceConfiguration": "JobInvoice",
    }


def paid(context: Context, invoice_id: int, add: float = 0.0) -> float:
    """What payments have applied to the invoice (seeded payment ``900001+n`` pays invoice ``700001+n``)."""
    table = links(context, "invoice-paid")
    if invoice_id not in table:
        n = invoice_id - INVOICE
        seeded = 0 <= n < context["invoices"].seeded and n < context["payments"].seeded
        table[invoice_id] = float(seeded_total(context, n)) if seeded else 0.0
    table[invoice_id] += add
    amount: float = table[invoice_id]
    return amount


def retotal(context: Context, invoice: Record) -> None:
    """Sub-total, total and balance from the items, the tax and what was paid."""
    subtotal = float(invoice_total(invoice["items"]))
    total = subtotal + float(invoice["salesTax"] or 0)
    balance = total - paid(context, invoice["id"])
    invoice.update(subTotal=money(subtotal), total=money(total), balance=money(balance))


def invoice(f: Faker, n: int, context: Context) -> Record:
    person, company = household(context, n)
    created = f.past(365)
    stamp = iso(created)
    business_unit = BUSINESS_UNIT + n % len(BUSINESS_UNITS)
    owner = {
        "id": JOB + n,
        "jobNumber": str(JOB + n),
        "customerId": CUSTOMER + n,
        "locationId": LOCATION + n,
        "businessUnitId": business_unit,
        "projectId": PROJECT + n if n < context["projects"].seeded else None,
    }
    record = invoice_record(INVOICE + n, owner, stamp, (company or person.name, company or person.name))
    record["items"] = seeded_items(context, n, stamp)
    where = address(person, coordinates=False)
    record.update(
        dueDate=iso(created + timedelta(days=30)),
        customerAddress=where,
        locationAddress=dict(where),
        businessUnit={"id": business_unit, "name": BUSINESS_UNITS[n % len(BUSINESS_UNITS)]},
        modifiedOn=iso(f.touched(created, 30)),
        syncStatus=("Pending", "Posted", "Exported")[n % 3],
    )
    if n < context["payments"].seeded:
        record["paidOn"] = record["modifiedOn"]
    retotal(context, record)
    return record


def payment(f: Faker, n: int, context: Context) -> Record:
    person, company = household(context, n)
    created = iso(f.past(365))
    amount = seeded_total(context, n)
    kind = ("Credit Card", "Check", "Cash")[n % 3]
    return {
        "id": PAYMENT + n,
        "active": True,
        "appliedTo": [
            {
                "appliedAmount": amount,
                "appliedBy": "Sandbox Office",
                "appliedId": PAYMENT + n,
                "appliedOn": created,
                "appliedTo": INVOICE + n,
                "appliedToReferenceNumber": str(JOB + n),
            }
        ],
        "authCode": f"A{n:05d}" if kind == "Credit Card" else None,
        "batch": None,
        "businessUnit": {
            "id": BUSINESS_UNIT + n % len(BUSINESS_UNITS),
            "name": BUSINESS_UNITS[n % len(BUSINESS_UNITS)],
        },
        "checkNumber": str(1000 + n) if kind == "Check" else None,
        "createdBy": "Sandbox Office",
        "createdOn": created,
        "customer": {"id": CUSTOMER + n, "name": company or person.name},
        "customFields": [],
        "date": created,
        "deposit": None,
        "generalLedgerAccount": None,
        "memo": None,
        "modifiedOn": created,
        "referenceNumber": str(PAYMENT + n),
        "refundedPaymentId": None,
        "syncStatus": "Pending",
        "total": amount,
        "type": kind,
        "typeId": str(PAYMENT_TYPE + n % 3),
        "unappliedAmount": "0.00",
        "_customerId": CUSTOMER + n,
        "_splits": [{"amount": float(amount), "invoiceId": INVOICE + n, "invoiceNumber": str(JOB + n)}],
        "_status": "Posted",
        "_exportId": None,
    }
