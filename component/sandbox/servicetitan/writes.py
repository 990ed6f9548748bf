"""ServiceTitan writes and their side effects, and the endpoints that are not plain CRUD.

Creating a job creates its appointments, their technician assignments and the job's invoice;
cancelling a job cancels its appointments; assigning and unassigning technicians changes the
appointment's assignments; changing an invoice's items re-totals it. Every write moves the record's
``modifiedOn`` to the sandbox clock.
"""

from __future__ import annotations

import email.parser
import email.policy
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from ..engine import Context, Record, Reply, SandboxError
from . import records as r
from .dialect import Download, body_of, invalid, one_of, page_of, path_id, require

PRIORITIES = ("Low", "Normal", "High", "Urgent")
CONTACT_TYPES = ("Phone", "Email", "Fax", "MobilePhone")
CLOSED_APPOINTMENT = ("Done", "Canceled")


def patch(
    record: Record, body: Mapping[str, Any], fields: Iterable[str], renames: Mapping[str, str] | None = None
) -> None:
    """Copy the body's given fields onto the record (``renames``: body name -> record name)."""
    names = dict.fromkeys(fields, None) | dict(renames or {})
    for name, target in names.items():
        if name in body:
            record[target or name] = body[name]


def merge_custom_fields(record: Record, given: Any, key: str = "customFields") -> None:
    """Request custom fields replace those of the same type; others stay."""
    fresh = r.custom_fields(given, named="name" in (record[key][0] if record[key] else {"name": 1}))
    kept = [f for f in record[key] if f["typeId"] not in {n["typeId"] for n in fresh}]
    record[key] = kept + fresh


def merge_external_data(record: Record, given: Any) -> None:
    if not isinstance(given, dict):
        return
    fresh = r.external_data(given)
    if given.get("patchMode") == "Merge":
        keys = {item["key"] for item in fresh}
        fresh = [item for item in record["externalData"] if item["key"] not in keys] + fresh
    record["externalData"] = fresh


def _address(current: Record, given: Any) -> Record:
    if not isinstance(given, dict):
        raise invalid("address", "expected an object")
    return {**current, **{k: v for k, v in given.items() if k in current}}


# --- technicians ---------------------------------------------------------------------------------------


def create_technician(context: Context, body: Record) -> Record:
    require(body, "name", "accountCreationMethod", "roleId", "positions", "licenseType")
    one_of(body, "accountCreationMethod", ("CreateLater", "SendInvite", "AssignLoginAndPassword"))
    one_of(body, "licenseType", ("NonManagedTech", "ManagedTech", "ManagedInstaller"))
    context["user_roles"].require(body["roleId"], "User role")
    return r.technician_record(context["technicians"].new_id(), body, context.now)


def update_technician(context: Context, record: Record, body: Record) -> None:
    one_of(body, "licenseType", ("NonManagedTech", "ManagedTech", "ManagedInstaller"))
    fields = ("name", "phoneNumber", "email", "businessUnitId", "positions", "aadUserId", "team", "jobFilter")
    patch(
        record, body, (*fields, "bio", "memo", "home", "accountLocked", "licenseType"), {"login": "loginName"}
    )
    if body.get("roleId") is not None:
        record["roleIds"] = [context["user_roles"].require(body["roleId"], "User role")["id"]]
    for name in ("dailyGoal", "burdenRate"):
        if body.get(name) is not None:
            record[name] = float(body[name])
    if "licenseType" in body:
        record["isManagedTech"] = body["licenseType"] in ("ManagedTech", "ManagedInstaller")
    if "customFields" in body:
        merge_custom_fields(record, body["customFields"])


def created_id(record: Record) -> Record:
    return {"id": record["id"]}


# --- customers, contacts, locations --------------------------------------------------------------------


def _check_address(body: Mapping[str, Any], prefix: str = "address") -> None:
    given = body.get("address")
    if not isinstance(given, dict):
        raise SandboxError(
            400, "One or more validation errors occurred.", {prefix: ["The address field is required."]}
        )
    require(given, "street", "city", "state", "zip", "country", prefix=f"{prefix}.")


def _contacts(body: Mapping[str, Any], name: str = "contacts") -> list[Record]:
    given = body.get(name) or []
    for i, item in enumerate(given):
        require(item, "type", "value", prefix=f"{name}[{i}].")
        one_of(item, "type", CONTACT_TYPES)
    return list(given)


def _new_location(context: Context, customer_id: int, body: Record) -> Record:
    record = r.location_record(context["locations"].new_id(), customer_id, body, context.now)
    created = [
        {
            "id": context["location_contacts"].new_id(),
            "type": c["type"],
            "value": str(c["value"]),
            "memo": c.get("memo"),
        }
        for c in _contacts(body)
    ]
    for item in created:
        context.insert("location_contacts", {**item, "_locationId": record["id"]})
    context.insert("locations", record)
    return {**record, "contacts": created}


def create_customer(context: Context, body: Record) -> Record:
    require(body, "name", "locations")
    one_of(body, "type", ("Residential", "Commercial"))
    _check_address(body)
    locations = body["locations"]
    if not isinstance(locations, list) or not locations:
        raise invalid("locations", "At least one location is required.")
    for i, item in enumerate(locations):
        require(item, "name", prefix=f"locations[{i}].")
        _check_address(item, f"locations[{i}].address")
    contacts = _contacts(body)
    record = r.customer_record(context["customers"].new_id(), body, context.now)
    created_locations = [_new_location(context, record["id"], item) for item in locations]
    created_contacts = []
    for item in contacts:
        contact = context.insert(
            "contacts", r.contact_record(context["contacts"].new_id(), record["id"], item, context.now)
        )
        created_contacts.append({k: contact[k] for k in ("id", "type", "value", "memo")})
    record["_created"] = {"locations": created_locations, "contacts": created_contacts}
    return record


def created_customer(record: Record) -> Record:
    created = record.pop("_created", {"locations": [], "contacts": []})
    return {**record, **created}


def update_customer(context: Context, record: Record, body: Record) -> None:
    one_of(body, "type", ("Residential", "Commercial"))
    fields = (
        "name",
        "type",
        "doNotMail",
        "doNotService",
        "nationalAccount",
        "active",
        "tagTypeIds",
        "taxExempt",
    )
    patch(record, body, (*fields, "paymentTermId", "creditLimit", "creditLimitBalance"))
    if "address" in body:
        record["address"] = _address(record["address"], body["address"])
    if "customFields" in body:
        merge_custom_fields(record, body["customFields"])
    merge_external_data(record, body.get("externalData"))


def create_location(context: Context, body: Record) -> Record:
    require(body, "customerId", "name")
    _check_address(body)
    context["customers"].require(body["customerId"], "Customer")
    record = _new_location(context, body["customerId"], body)
    contacts = record.pop("contacts")
    stored = context["locations"].require(record["id"])
    stored["_created"] = {"contacts": contacts}
    return stored


def created_location(record: Record) -> Record:
    created = record.pop("_created", {"contacts": []})
    return {**record, **created}


def update_location(context: Context, record: Record, body: Record) -> None:
    if body.get("customerId") is not None:
        context["customers"].require(body["customerId"], "Customer")
    patch(record, body, ("customerId", "name", "active", "taxZoneId", "tagTypeIds"))
    if "address" in body:
        record["address"] = _address(record["address"], body["address"])
    if "customFields" in body:
        merge_custom_fields(record, body["customFields"])
    merge_external_data(record, body.get("externalData"))


def _customer_contacts(context: Context, customer_id: int) -> list[Record]:
    """A customer's contacts: its seeded ones by offset, then any created (no scan of the seeded ones)."""
    contacts = context["contacts"]
    n = customer_id - r.CUSTOMER
    found = [contacts.get(r.CONTACT + 2 * n + k) for k in range(2)] if 0 <= 2 * n < contacts.seeded else []
    created = [
        c
        for c in contacts.loaded()
        if c["customerId"] == customer_id and c["id"] >= r.CONTACT + contacts.seeded
    ]
    return [c for c in found if c is not None] + created


def _without_customer(contact: Record) -> Record:
    return {k: v for k, v in contact.items() if k != "customerId"}


def list_customer_contacts(context: Context) -> Reply:
    customer = context["customers"].require(path_id(context), "Customer")
    return page_of(context, "contacts", _customer_contacts(context, customer["id"]), _without_customer)


def list_modified_contacts(context: Context) -> Reply:
    return page_of(context, "contacts", context["contacts"].all())


def _contact(context: Context) -> tuple[Record, Record]:
    customer = context["customers"].require(path_id(context), "Customer")
    contact = context["contacts"].require(path_id(context, "contactId"), "Contact")
    if contact["customerId"] != customer["id"]:
        raise SandboxError(404, f"Contact with id {contact['id']} was not found")
    return customer, contact


def create_customer_contact(context: Context) -> Reply:
    customer = context["customers"].require(path_id(context), "Customer")
    body = body_of(context)
    _contacts({"contacts": [body]})
    contact = r.contact_record(context["contacts"].new_id(), customer["id"], body, context.now)
    context.insert("contacts", contact)
    context.touch("customers", customer)
    return Reply(_without_customer(contact))


def update_customer_contact(context: Context) -> Reply:
    customer, contact = _contact(context)
    body = body_of(context)
    one_of(body, "type", CONTACT_TYPES)
    patch(contact, body, ("type", "value", "memo"))
    if isinstance(body.get("preferences"), dict):
        contact["preferences"] = {**(contact["preferences"] or {}), **body["preferences"]}
    if contact["type"] in ("Phone", "MobilePhone", "Fax"):
        contact["phoneSettings"] = {**contact["phoneSettings"], "phoneNumber": contact["value"]}
    context.touch("contacts", contact)
    context.touch("customers", customer)
    return Reply(_without_customer(contact))


def delete_customer_contact(context: Context) -> Reply:
    customer, contact = _contact(context)
    context["contacts"].remove(contact["id"])
    context.touch("customers", customer)
    return Reply(None, empty=True)


# --- jobs, appointments, assignments -------------------------------------------------------------------


def _job_refs(context: Context, body: Record) -> None:
    one_of(body, "priority", PRIORITIES)
    for name, collection in (("businessUnitId", "business_units"), ("projectId", "projects")):
        if body.get(name) is not None and context[collection].get(body[name]) is None:
            raise invalid(name, f"{body[name]} is not a known id")


def create_job(context: Context, body: Record) -> Record:
    require(body, "customerId", "locationId", "businessUnitId", "jobTypeId", "priority", "campaignId")
    _job_refs(context, body)
    appointments = body.get("appointments")
    if not isinstance(appointments, list) or not appointments:
        raise invalid("appointments", "At least one appointment is required.")
    for i, item in enumerate(appointments):
        require(item, "start", "end", prefix=f"appointments[{i}].")
    context["customers"].require(body["customerId"], "Customer")
    location = context["locations"].require(body["locationId"], "Location")
    if location["customerId"] != body["customerId"]:
        raise invalid("locationId", "belongs to another customer")
    record = r.job_record(context["jobs"].new_id(), body, context.now, [], 0)
    for number, item in enumerate(appointments, start=1):
        _add_appointment(context, record, item, number)
    names = (context["customers"].require(body["customerId"])["name"], location["name"])
    created_invoice = r.invoice_record(context["invoices"].new_id(), record, context.now, names)
    record["invoiceId"] = context.insert("invoices", created_invoice)["id"]
    return record


def update_job(context: Context, record: Record, body: Record) -> None:
    _job_refs(context, body)
    if record["jobStatus"] in ("Completed", "Canceled") and body:
        raise invalid("jobStatus", f"Job {record['id']} is {record['jobStatus']} and cannot be changed.")
    customer = body.get("customerId", record["customerId"])
    if body.get("locationId") is not None or body.get("customerId") is not None:
        context["customers"].require(customer, "Customer")
        location = context["locations"].require(body.get("locationId", record["locationId"]), "Location")
        if location["customerId"] != customer:
            raise invalid("locationId", "belongs to another customer")
    fields = ("customerId", "locationId", "businessUnitId", "jobTypeId", "priority", "campaignId", "summary")
    patch(record, body, (*fields, "tagTypeIds", "soldById", "jobGeneratedLeadSource"))
    if "customerPo" in body:
        record["customerPo"] = str(body["customerPo"] or "")
    if "customFields" in body:
        merge_custom_fields(record, body["customFields"])
    merge_external_data(record, body.get("externalData"))


def job_appointments(context: Context, job: Record) -> list[Record]:
    found = (context["appointments"].get(i) for i in r.appointment_ids(context, job["id"]))
    return [a for a in found if a is not None]


def cancel_job(context: Context) -> Reply:
    job = context["jobs"].require(path_id(context), "Job")
    body = body_of(context)
    require(body, "reasonId", "memo")
    if context["cancel_reasons"].get(body["reasonId"]) is None:
        raise invalid("reasonId", f"{body['reasonId']} is not a job cancel reason")
    if job["jobStatus"] == "Completed":
        raise invalid("jobStatus", f"Job {job['id']} is completed and cannot be canceled.")
    job["jobStatus"] = "Canceled"
    context.touch("jobs", job)
    for item in job_appointments(context, job):
        item["status"] = "Canceled"
        context.touch("appointments", item)
    return Reply(None, empty=True)


def _add_appointment(context: Context, job: Record, body: Record, number: int) -> Record:
    record = r.appointment_record(context["appointments"].new_id(), job, body, context.now, number)
    context.insert("appointments", record)
    ids = r.appointment_ids(context, job["id"])
    ids.append(record["id"])
    job.update(appointmentCount=len(ids), firstAppointmentId=ids[0], lastAppointmentId=ids[-1])
    technicians = body.get("technicianIds") or ([body["technicianId"]] if body.get("technicianId") else [])
    for technician_id in technicians:
        _assign(context, record, technician_id)
    return record


def add_appointment(context: Context, body: Record) -> Record:
    """``Appointments_Add``; the appointment is stored here, so the engine's insert keeps it."""
    require(body, "jobId", "start", "end")
    job = context["jobs"].require(body["jobId"], "Job")
    if job["jobStatus"] in ("Completed", "Canceled"):
        raise SandboxError(409, f"Job {job['id']} is {job['jobStatus']}; no appointment can be added.")
    record = _add_appointment(context, job, body, len(r.appointment_ids(context, job["id"])) + 1)
    context.touch("jobs", job)
    return record


def delete_appointment(context: Context) -> Reply:
    appointment = context["appointments"].require(path_id(context), "Appointment")
    job = context["jobs"].require(appointment["jobId"], "Job")
    ids = r.appointment_ids(context, job["id"])
    if len(ids) <= 1:
        raise SandboxError(
            409, f"Appointment {appointment['id']} is the only appointment of job {job['id']}."
        )
    context["appointments"].remove(appointment["id"])
    ids.remove(appointment["id"])
    job.update(appointmentCount=len(ids), firstAppointmentId=ids[0], lastAppointmentId=ids[-1])
    context.touch("jobs", job)
    return Reply(None, empty=True)


def _assignments(context: Context, appointment: Record) -> list[Record]:
    found = (context["assignments"].get(i) for i in r.assignment_ids(context, appointment["id"]))
    return [a for a in found if a is not None]


def _assign(context: Context, appointment: Record, technician_id: int) -> None:
    technician = context["technicians"].require(technician_id, "Technician")
    if any(a["technicianId"] == technician_id and a["active"] for a in _assignments(context, appointment)):
        return
    created = r.assignment_record(context["assignments"].new_id(), appointment, technician, context.now)
    r.assignment_ids(context, appointment["id"]).append(context.insert("assignments", created)["id"])


def assign_technicians(context: Context) -> Reply:
    return _reassign(context, assign=True)


def unassign_technicians(context: Context) -> Reply:
    return _reassign(context, assign=False)


DISPATCH_APPOINTMENT = (
    "id",
    "jobId",
    "appointmentNumber",
    "start",
    "end",
    "arrivalWindowStart",
    "arrivalWindowEnd",
    "status",
    "specialInstructions",
    "createdOn",
    "modifiedOn",
)


def _reassign(context: Context, *, assign: bool) -> Reply:
    body = body_of(context)
    require(body, "jobAppointmentId", "technicianIds")
    if not isinstance(body["technicianIds"], list):
        raise invalid("technicianIds", "expected a list of technician ids")
    appointment = context["appointments"].require(body["jobAppointmentId"], "Appointment")
    if appointment["status"] in CLOSED_APPOINTMENT:
        raise SandboxError(409, f"Appointment {appointment['id']} is {appointment['status']}.")
    for technician_id in body["technicianIds"]:
        if assign:
            _assign(context, appointment, technician_id)
            continue
        for existing in _assignments(context, appointment):
            if existing["technicianId"] == technician_id and existing["active"]:
                existing["active"] = False
                context.touch("assignments", existing)
    context.touch("appointments", appointment)
    return Reply({key: appointment[key] for key in DISPATCH_APPOINTMENT})


# --- projects ------------------------------------------------------------------------------------------


def create_project(context: Context, body: Record) -> Record:
    require(body, "locationId")
    location = context["locations"].require(body["locationId"], "Location")
    customer = body.get("customerId") or location["customerId"]
    if customer != location["customerId"]:
        raise invalid("locationId", "belongs to another customer")
    return r.project_record(context["projects"].new_id(), {**body, "customerId": customer}, context.now)


def update_project(context: Context, record: Record, body: Record) -> None:
    fields = ("projectManagerIds", "businessUnitIds", "name", "summary", "subStatusId", "projectTypeId")
    patch(record, body, (*fields, "startDate", "targetCompletionDate", "actualCompletionDate"))
    if "statusId" in body:
        status = dict(r.PROJECT_STATUSES).get(body["statusId"] or 0)
        record.update(statusId=body["statusId"] if status else None, status=status)
    if "jobIds" in body:
        for job_id in body["jobIds"] or []:
            job = context["jobs"].require(job_id, "Job")
            job["projectId"] = record["id"]
            context.touch("jobs", job)
        record["jobIds"] = list(body["jobIds"] or [])
    if "customFields" in body:
        merge_custom_fields(record, body["customFields"])
    merge_external_data(record, body.get("externalData"))


# --- bookings (tenant and booking provider) ------------------------------------------------------------


def _provider(context: Context) -> int:
    provider = path_id(context, "booking_provider")
    if not r.BOOKING_PROVIDER <= provider < r.BOOKING_PROVIDER + 3:
        raise SandboxError(404, f"Booking provider with id {provider} was not found")
    return provider


def _provider_booking(context: Context) -> Record:
    provider = _provider(context)
    booking = context["bookings"].require(path_id(context), "Booking")
    if booking["bookingProviderId"] != provider:
        raise SandboxError(404, f"Booking with id {booking['id']} was not found")
    return booking


def list_provider_bookings(context: Context) -> Reply:
    provider = _provider(context)
    return page_of(
        context, "bookings", (b for b in context["bookings"].all() if b["bookingProviderId"] == provider)
    )


def get_provider_booking(context: Context) -> Reply:
    return Reply(_provider_booking(context))


def _booking_checks(body: Record) -> None:
    one_of(body, "priority", PRIORITIES)
    one_of(body, "customerType", ("Residential", "Commercial"))
    if isinstance(body.get("address"), dict):
        require(body["address"], "street", "city", "state", "zip", "country", prefix="address.")


def create_booking(context: Context) -> Reply:
    provider = _provider(context)
    body = body_of(context)
    require(body, "source", "name", "summary", "isFirstTimeClient", "externalId")
    _booking_checks(body)
    _contacts(body)
    record = r.booking_record(context["bookings"].new_id(), provider, body, context.now)
    return Reply(context.insert("bookings", record))


def update_booking(context: Context) -> Reply:
    booking = _provider_booking(context)
    body = body_of(context)
    _booking_checks(body)
    if booking["status"] in ("Converted", "Dismissed") and body:
        raise SandboxError(409, f"Booking {booking['id']} is {booking['status']} and cannot be changed.")
    fields = (
        "source",
        "name",
        "customerType",
        "start",
        "summary",
        "campaignId",
        "businessUnitId",
        "jobTypeId",
    )
    patch(booking, body, (*fields, "priority", "isFirstTimeClient", "uploadedImages", "externalId"))
    if isinstance(body.get("address"), dict):
        booking["address"] = r.address_from(body["address"])
    context.touch("bookings", booking)
    return Reply(booking)


# --- installed equipment and attachments ---------------------------------------------------------------


EQUIPMENT_FIELDS = (
    "name",
    "installedOn",
    "actualReplacementDate",
    "barcodeId",
    "manufacturerWarrantyStart",
    "manufacturerWarrantyEnd",
    "serviceProviderWarrantyStart",
    "serviceProviderWarrantyEnd",
    "status",
    "tagTypeIds",
)


def _equipment_extras(context: Context, record: Record, body: Record) -> None:
    one_of(body, "status", ("Installed", "Replaced"))
    if "customFields" in body:
        record["_customFields"] = [
            {
                "id": item.get("id") or context["equipment_custom_fields"].new_id(),
                "typeId": item.get("typeId") or 0,
            }
            | {"name": None, "value": item.get("value")}
            for item in body["customFields"] or []
        ]
    if "attachments" in body:
        for i, item in enumerate(body["attachments"] or []):
            require(item, "type", "url", prefix=f"attachments[{i}].")
        record["_attachments"] = [
            {"alias": a.get("alias"), "fileName": a.get("fileName"), "type": a["type"], "url": a["url"]}
            for a in body["attachments"] or []
        ]


def create_equipment(context: Context, body: Record) -> Record:
    require(body, "locationId")
    location = context["locations"].require(body["locationId"], "Location")
    record = r.equipment_record(context["equipment"].new_id(), location, body, context.now)
    _equipment_extras(context, record, body)
    record.pop("tagTypeIds", None)
    return record


def update_equipment(context: Context, record: Record, body: Record) -> None:
    patch(record, body, [f for f in EQUIPMENT_FIELDS if f != "tagTypeIds"])
    for name in ("serialNumber", "memo", "manufacturer", "model"):
        if name in body:
            record[name] = str(body[name] or "")
    if body.get("cost") is not None:
        record["cost"] = float(body["cost"])
    if body.get("equipmentTypeId") is not None:
        named = next((t for t in r.EQUIPMENT_TYPES if t[0] == body["equipmentTypeId"]), None)
        record["type"] = {"id": body["equipmentTypeId"], "name": named[1] if named else None}
    _equipment_extras(context, record, body)


def equipment_detail(record: Record) -> Record:
    return {**record, "customFields": record["_customFields"], "attachments": record["_attachments"]}


def _upload(context: Context) -> tuple[bytes, str, str]:
    """The ``file`` part of a multipart/form-data body: content, file name, media type."""
    request = context.request
    kind = request.headers.get("content-type", "") if request else ""
    raw = context.body if isinstance(context.body, bytes) else b""
    if "multipart/form-data" not in kind or not raw:
        raise invalid("file", "send the file as multipart/form-data in a field named file")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {kind}\r\n\r\n".encode() + raw
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            content = part.get_payload(decode=True)
            name = part.get_filename() or "attachment"
            return bytes(content) if isinstance(content, bytes) else b"", name, part.get_content_type()
    raise invalid("file", "The file field is required.")


def post_attachment(context: Context) -> Reply:
    content, name, kind = _upload(context)
    path = f"{r.ATTACHMENTS}/{secrets.token_hex(6)}-{name}"
    context.insert("attachments", {"path": path, "_content": content, "_type": kind})
    return Reply({"path": path})


def get_attachment(context: Context) -> Reply:
    path = context.query.get("path")
    if not path:
        raise invalid("path", "The path field is required.")
    stored = context["attachments"].get(path) or r.SAMPLE_FILES.get(path)
    if stored is None:
        raise SandboxError(404, f"Attachment {path} was not found")
    download = Download(stored["_content"])
    download.media_type = stored["_type"]
    return Reply(download)


# --- invoices ------------------------------------------------------------------------------------------


INVOICE_FIELDS = {"number": "referenceNumber", "invoicedOn": "invoiceDate", "summary": "summary"}


def _item_checks(items: Any, prefix: str) -> list[Record]:
    listed = items if isinstance(items, list) else [items]
    for i, item in enumerate(listed):
        if not isinstance(item, dict):
            raise invalid(f"{prefix}[{i}]", "expected an object")
        require(item, "description", "quantity", prefix=f"{prefix}[{i}].")
    return listed


def _upsert_items(context: Context, invoice: Record, items: list[Record]) -> None:
    for item in items:
        existing = next((i for i in invoice["items"] if item.get("id") and i["id"] == item["id"]), None)
        if item.get("id") and existing is None:
            raise SandboxError(404, f"Invoice item with id {item['id']} was not found")
        if existing is None:
            order = len(invoice["items"]) + 1
            invoice["items"].append(
                r.item_record(context["invoice_items"].new_id(), item, context.now, order)
            )
            continue
        current = {
            "skuId": existing["skuId"],
            "skuName": existing["skuName"],
            "unitPrice": existing["price"],
            "cost": existing["cost"],
            "technicianId": existing["technicianId"],
        }
        fresh = r.item_record(existing["id"], {**current, **item}, context.now, existing["order"])
        existing.update({**fresh, "createdOn": existing["createdOn"]})
    r.retotal(context, invoice)


def _apply_invoice(context: Context, invoice: Record, body: Record) -> None:
    one_of(
        body,
        "reviewStatus",
        ("NeedsReview", "OnHold", "Reviewed", "PendingApproval", "Rejected", "ReadyForBilling", "Invoiced"),
    )
    one_of(body, "royaltyStatus", ("Pending", "Sent", "Failed"))
    items = _item_checks(body["items"], "items") if body.get("items") is not None else []
    patch(invoice, body, ("reviewStatus", "exportId", "budgetCodeId", "taxZoneId"), INVOICE_FIELDS)
    if body.get("dueDate"):
        invoice["dueDate"] = f"{str(body['dueDate'])[:10]}T00:00:00.000000Z"
    if body.get("tax") is not None:
        invoice["salesTax"] = r.money(float(body["tax"]))
    if body.get("assignedToId") is not None:
        invoice["assignedTo"] = {"id": body["assignedToId"], "name": None}
    if any(body.get(k) is not None for k in ("royaltyStatus", "royaltyDate", "royaltySentOn", "royaltyMemo")):
        invoice["royalty"] = {
            "status": body.get("royaltyStatus"),
            "date": body.get("royaltyDate"),
            "sentOn": body.get("royaltySentOn"),
            "memo": body.get("royaltyMemo"),
        }
    _upsert_items(context, invoice, items)


def create_adjustment_invoice(context: Context, body: Record) -> Record:
    require(body, "adjustmentToId")
    original = context["invoices"].require(body["adjustmentToId"], "Invoice")
    owner = {
        "id": original["job"]["id"] if original["job"] else 0,
        "jobNumber": original["job"]["number"] if original["job"] else "",
        "customerId": original["customer"]["id"],
        "locationId": original["location"]["id"],
        "businessUnitId": original["businessUnit"]["id"],
        "projectId": original["projectId"],
        "summary": None,
    }
    names = (original["customer"]["name"], original["location"]["name"])
    record = r.invoice_record(context["invoices"].new_id(), owner, context.now, names)
    record.update(adjustmentToId=original["id"], referenceNumber=f"{original['referenceNumber']}-ADJ")
    _apply_invoice(context, record, body)
    return record


def update_invoice(context: Context, record: Record, body: Record) -> None:
    _apply_invoice(context, record, body)


def update_invoice_items(context: Context) -> Reply:
    invoice = context["invoices"].require(path_id(context, "invoiceId"), "Invoice")
    body = context.body
    items = _item_checks(body.get("items", body) if isinstance(body, dict) else body, "items")
    _upsert_items(context, invoice, items)
    context.touch("invoices", invoice)
    return Reply(None, empty=True)


def delete_invoice_item(context: Context) -> Reply:
    invoice = context["invoices"].require(path_id(context, "invoiceId"), "Invoice")
    item_id = path_id(context, "itemId")
    if not any(item["id"] == item_id for item in invoice["items"]):
        raise SandboxError(404, f"Invoice item with id {item_id} was not found")
    invoice["items"] = [item for item in invoice["items"] if item["id"] != item_id]
    r.retotal(context, invoice)
    context.touch("invoices", invoice)
    return Reply(None, empty=True)


def _custom_field_operations(context: Context, collection: str, what: str) -> Reply:
    body = body_of(context)
    require(body, "operations")
    operations = body["operations"]
    if not isinstance(operations, list):
        raise invalid("operations", "expected a list")
    targets = []
    for i, operation in enumerate(operations):
        require(operation, "objectId", "customFields", prefix=f"operations[{i}].")
        found = context[collection].get(operation["objectId"])
        if found is None:
            raise invalid(f"operations[{i}].objectId", f"{what} {operation['objectId']} was not found")
        for k, field in enumerate(operation["customFields"]):
            require(field, "name", prefix=f"operations[{i}].customFields[{k}].")
        targets.append((found, operation["customFields"]))
    for record, fields in targets:
        names = {str(f["name"]) for f in fields}
        kept = [f for f in record["customFields"] or [] if f["name"] not in names]
        fresh = [
            {"name": str(f["name"]), "value": "" if f.get("value") is None else str(f["value"])}
            for f in fields
        ]
        record["customFields"] = kept + fresh
        context.touch(collection, record)
    return Reply(None, empty=True)


def update_invoice_custom_fields(context: Context) -> Reply:
    return _custom_field_operations(context, "invoices", "Invoice")


# --- payments ------------------------------------------------------------------------------------------


def _splits(context: Context, body: Record) -> list[Record]:
    splits = body.get("splits") or []
    out = []
    for i, split in enumerate(splits):
        invoice_id = split.get("invoiceId")
        if invoice_id is not None and context["invoices"].get(invoice_id) is None:
            raise invalid(f"splits[{i}].invoiceId", f"Invoice {invoice_id} was not found")
        amount = split.get("amount")
        out.append(
            {
                "amount": None if amount is None else float(amount),
                "invoiceId": invoice_id,
                "invoiceNumber": split.get("invoiceNumber"),
            }
        )
    return out


def _apply_splits(context: Context, payment: Record, splits: list[Record]) -> None:
    payment["_splits"] = splits
    payment["appliedTo"] = []
    for split in splits:
        invoice = context["invoices"].get(split["invoiceId"]) if split["invoiceId"] is not None else None
        amount = split["amount"] or 0.0
        payment["appliedTo"].append(
            {
                "appliedAmount": r.money(amount),
                "appliedBy": "Sandbox API",
                "appliedId": payment["id"],
                "appliedOn": context.now,
                "appliedTo": split["invoiceId"] or 0,
                "appliedToReferenceNumber": invoice["referenceNumber"] if invoice else split["invoiceNumber"],
            }
        )
        if invoice is not None:
            r.paid(context, invoice["id"], amount)
            invoice["paidOn"] = context.now
            r.retotal(context, invoice)
            context.touch("invoices", invoice)
    applied = sum(s["amount"] or 0.0 for s in splits)
    payment["unappliedAmount"] = r.money(max(0.0, float(payment["total"]) - applied))


def create_payment(context: Context, body: Record) -> Record:
    require(body, "typeId")
    one_of(body, "status", ("Pending", "Posted", "Exported"))
    if body.get("customerId") is not None:
        context["customers"].require(body["customerId"], "Customer")
    splits = _splits(context, body)
    amount = body.get("amount")
    total = float(amount) if amount is not None else sum(s["amount"] or 0.0 for s in splits)
    customer = context["customers"].get(body["customerId"]) if body.get("customerId") is not None else None
    record: Record = {
        "id": context["payments"].new_id(),
        "active": True,
        "appliedTo": [],
        "authCode": body.get("authCode"),
        "batch": None,
        "businessUnit": None,
        "checkNumber": body.get("checkNumber"),
        "createdBy": "Sandbox API",
        "customer": {"id": customer["id"], "name": customer["name"]} if customer else None,
        "customFields": [],
        "date": body.get("paidOn") or context.now,
        "deposit": None,
        "generalLedgerAccount": None,
        "memo": body.get("memo"),
        "referenceNumber": None,
        "refundedPaymentId": None,
        "syncStatus": "Pending",
        "total": r.money(total),
        "type": None,
        "typeId": str(body["typeId"]),
        "unappliedAmount": r.money(total),
        "_customerId": body.get("customerId"),
        "_status": body.get("status"),
        "_exportId": body.get("exportId"),
    }
    record["referenceNumber"] = str(record["id"])
    _apply_splits(context, record, splits)
    return record


def update_payment(context: Context, record: Record, body: Record) -> None:
    require(body, "typeId")
    if body.get("splits") is None:
        raise invalid("splits", "The splits field is required.")
    one_of(body, "status", ("Pending", "Posted", "Exported"))
    splits = _splits(context, body)
    patch(
        record,
        body,
        ("active", "authCode", "checkNumber", "memo"),
        {"paidOn": "date", "status": "_status", "exportId": "_exportId"},
    )
    record["typeId"] = str(body["typeId"])
    for invoice_split in record.get("_splits", []):  # undo what the old splits paid
        invoice = context["invoices"].get(invoice_split["invoiceId"]) if invoice_split["invoiceId"] else None
        if invoice is not None:
            r.paid(context, invoice["id"], -(invoice_split["amount"] or 0.0))
            r.retotal(context, invoice)
    _apply_splits(context, record, splits)


def payment_response(record: Record) -> Record:
    """``PaymentResponse`` (what create and update answer) from the stored detailed record."""
    return {
        "id": record["id"],
        "active": record["active"],
        "authCode": record["authCode"],
        "checkNumber": record["checkNumber"],
        "customerId": record.get("_customerId"),
        "exportId": record.get("_exportId"),
        "memo": record["memo"],
        "paidOn": record["date"],
        "splits": record.get("_splits", []),
        "status": record.get("_status"),
        "transactionStatus": None,
        "typeId": int(record["typeId"]),
    }


def update_payment_custom_fields(context: Context) -> Reply:
    return _custom_field_operations(context, "payments", "Payment")
