"""ServiceTitan emulation: OAuth2 client credentials, ``ST-App-Key``, tenant in the path, problem JSON.

Every operation the ServiceTitan definitions use is served, with the official paths and methods, and
its answers follow the official response schemas (``../shared/reference/servicetitan/*.subset.json``;
``tests/test_sandbox_conformance.py`` validates a response of every served operation against them).
Lists answer ``{page, pageSize, hasMore, totalCount, data}`` with ``pageSize`` 1 to 5,000 (default 50),
take the spec's filters (``ids`` at most 50, ``modifiedOnOrAfter`` …, ``active`` True|Any|False,
accounting's ``activeState``) and ``sort=+Field``/``-Field`` over each list's documented fields.
60 requests per second per tenant and application key; beyond that a 429 with ``Retry-After``.

Tenant ``1000001`` is seeded in full, tenant ``2000002`` with a hundredth (to prove isolation).
Seeded ids are ``base + n`` per resource (:mod:`.records` says how records relate): business units
1001+, job types 2001+, campaigns 3001+, technicians 4001+, user roles 5001+, job cancel reasons 6001+,
booking providers 7001-7003, customers 100001+, locations 200001+, contacts 300001+, jobs 400001+,
appointments 500001+ (and 512001+ for the second appointment of jobs 400001-401000), projects 600001+,
invoices 700001+, invoice items 800001+, payments 900001+, installed equipment 1000001+, bookings
1100001+, appointment assignments 1200001+. Created records get ids above the seeded ones.
"""

from __future__ import annotations

from ..engine import Filter, Operation, Resource, Vendor
from ..rules import Rules
from . import records as r
from . import writes as w
from .dialect import (
    APP_KEY,
    CLIENTS,
    OTHER_TENANT,
    TENANT,
    ServiceTitanDialect,
    active_state_filter,
    amount_filter,
    any_id_filter,
    ids_filter,
    refuse,
    request_rules,
    token,
)

JPM = "/jpm/v2/tenant/{tenant}"
CRM = "/crm/v2/tenant/{tenant}"
DISPATCH = "/dispatch/v2/tenant/{tenant}"
ACCOUNTING = "/accounting/v2/tenant/{tenant}"
SETTINGS = "/settings/v2/tenant/{tenant}"
EQUIPMENT = "/equipmentsystems/v2/tenant/{tenant}"
PROVIDER_BOOKINGS = f"{CRM}/booking-provider/{{booking_provider}}/bookings"

IDS = {"ids": Filter("id", custom=ids_filter, index=True)}
CREATED = {"createdBefore": Filter("createdOn", "lt"), "createdOnOrAfter": Filter("createdOn", "gte")}
MODIFIED = {"modifiedBefore": Filter("modifiedOn", "lt"), "modifiedOnOrAfter": Filter("modifiedOn", "gte")}
STAMPS = {**CREATED, **MODIFIED}
ACTIVE = {"active": Filter("active", "active", default="True")}
ACTIVE_STATE = {"activeState": Filter("active", custom=active_state_filter, default="ActiveOnly")}
SORTS = {"Id": "id", "ModifiedOn": "modifiedOn", "CreatedOn": "createdOn"}
TOTALS = {
    "totalGreater": Filter("total", custom=amount_filter(True)),
    "totalLess": Filter("total", custom=amount_filter(False)),
}
ADDRESS = {name: Filter(f"address.{name}", "contains") for name in ("street", "unit", "city", "state", "zip")}
NONE: frozenset[str] = frozenset()
READ = frozenset({"list", "get"})
WRITE = frozenset({"list", "get", "create", "update"})

RESOURCES = (
    # settings
    Resource(
        "technicians",
        f"{SETTINGS}/technicians",
        seed=50,
        factory=r.technician,
        id_base=r.TECHNICIAN,
        filters={
            **IDS,
            "userIds": Filter("userId", "in"),
            "name": Filter("name", "contains"),
            **ACTIVE,
            **STAMPS,
        },
        ops=WRITE,
        create=w.create_technician,
        update=w.update_technician,
        created=w.created_id,
        updated=w.created_id,
    ),
    Resource(
        "business_units",
        f"{SETTINGS}/business-units",
        seed=len(r.BUSINESS_UNITS),
        factory=r.business_unit,
        id_base=r.BUSINESS_UNIT,
        filters={**IDS, "name": Filter("name", "contains"), **ACTIVE, **STAMPS},
        ops=frozenset({"list"}),
    ),
    Resource(
        "user_roles",
        f"{SETTINGS}/user-roles",
        seed=len(r.USER_ROLES),
        factory=r.user_role,
        id_base=r.USER_ROLE,
        filters={
            **IDS,
            "name": Filter("name", "contains"),
            "employeeType": Filter("employeeType"),
            **ACTIVE,
            **CREATED,
        },
        ops=frozenset({"list"}),
        timestamps=("createdOn", None),
    ),
    # jpm
    Resource(
        "cancel_reasons",
        f"{JPM}/job-cancel-reasons",
        seed=len(r.CANCEL_REASONS),
        factory=r.cancel_reason,
        id_base=r.CANCEL_REASON,
        filters={"active": Filter("active", "active", default="Any"), **STAMPS},
        sorts=SORTS,
        ops=frozenset({"list"}),
    ),
    Resource(
        "jobs",
        f"{JPM}/jobs",
        seed=r.SEEDED,
        factory=r.job,
        id_base=r.JOB,
        filters={
            **IDS,
            "number": Filter("jobNumber"),
            "jobStatus": Filter("jobStatus", "ieq"),
            "priority": Filter("priority", "ieq"),
            **{
                name: Filter(name)
                for name in ("projectId", "bookingId", "customerId", "locationId", "soldById")
            },
            **{name: Filter(name) for name in ("jobTypeId", "campaignId", "businessUnitId", "invoiceId")},
            "tagTypeIds": Filter("tagTypeIds", "has"),
            "completedOnOrAfter": Filter("completedOn", "gte"),
            "completedBefore": Filter("completedOn", "lt"),
            **STAMPS,
        },
        sorts={**SORTS, "Priority": "priority"},
        ops=WRITE,
        create=w.create_job,
        update=w.update_job,
    ),
    Resource(
        "appointments",
        f"{JPM}/appointments",
        seed=r.SEEDED + r.SECOND_APPOINTMENTS,
        factory=r.appointment,
        id_base=r.APPOINTMENT,
        filters={
            **IDS,
            **ACTIVE,
            "jobId": Filter("jobId"),
            "number": Filter("appointmentNumber"),
            "status": Filter("status", "ieq"),
            "customerId": Filter("customerId"),
            "unused": Filter("unused", "bool"),
            "startsOnOrAfter": Filter("start", "gte"),
            "startsBefore": Filter("start", "lt"),
            **STAMPS,
        },
        sorts=SORTS,
        ops=frozenset({"list", "get", "create"}),
        create=w.add_appointment,
    ),
    Resource(
        "projects",
        f"{JPM}/projects",
        seed=200,
        factory=r.project,
        id_base=r.PROJECT,
        filters={
            **IDS,
            **{name: Filter(name) for name in ("customerId", "locationId", "projectTypeId")},
            "jobId": Filter("jobIds", "has"),
            "projectManagerIds": Filter("projectManagerIds", custom=any_id_filter()),
            "businessUnitIds": Filter("businessUnitIds", custom=any_id_filter()),
            "status": Filter("status", "ieq"),
            "startsOnOrAfter": Filter("startDate", "gte"),
            "startsBefore": Filter("startDate", "lt"),
            "completedOnOrAfter": Filter("actualCompletionDate", "gte"),
            "completedBefore": Filter("actualCompletionDate", "lt"),
            "targetCompletionDateOnOrAfter": Filter("targetCompletionDate", "gte"),
            "targetCompletionDateBefore": Filter("targetCompletionDate", "lt"),
            **STAMPS,
        },
        sorts={**SORTS, "Name": "name", "TargetCompletionDate": "targetCompletionDate"},
        ops=WRITE,
        create=w.create_project,
        update=w.update_project,
    ),
    # dispatch
    Resource(
        "assignments",
        f"{DISPATCH}/appointment-assignments",
        seed=r.SEEDED + r.SECOND_APPOINTMENTS,
        factory=r.assignment,
        id_base=r.ASSIGNMENT,
        filters={
            **IDS,
            "appointmentIds": Filter("appointmentId", "in"),
            "jobId": Filter("jobId"),
            **ACTIVE,
            **STAMPS,
        },
        sorts=SORTS,
        ops=frozenset({"list"}),
    ),
    # crm
    Resource(
        "customers",
        f"{CRM}/customers",
        seed=r.SEEDED,
        factory=r.customer,
        id_base=r.CUSTOMER,
        filters={**IDS, "name": Filter("name", "contains"), **ADDRESS, **ACTIVE, **STAMPS},
        sorts=SORTS,
        ops=WRITE,
        create=w.create_customer,
        update=w.update_customer,
        created=w.created_customer,
    ),
    Resource(
        "contacts",
        f"{CRM}/customers/contacts",
        seed=2 * r.CONTACT_CUSTOMERS,
        factory=r.contact,
        id_base=r.CONTACT,
        filters={"customerIds": Filter("customerId", custom=ids_filter), **STAMPS},
        ops=NONE,  # served by the custom operations below
    ),
    Resource(
        "locations",
        f"{CRM}/locations",
        seed=r.SEEDED,
        factory=r.location,
        id_base=r.LOCATION,
        filters={**IDS, "name": Filter("name", "contains"), "customerId": Filter("customerId"), **ADDRESS}
        | {**ACTIVE, **STAMPS},
        sorts=SORTS,
        ops=WRITE,
        create=w.create_location,
        update=w.update_location,
        created=w.created_location,
    ),
    Resource("location_contacts", f"{CRM}/locations/contacts", id_base=r.LOCATION_CONTACT, ops=NONE),
    Resource(
        "bookings",
        f"{CRM}/bookings",
        seed=300,
        factory=r.booking,
        id_base=r.BOOKING,
        filters={**IDS, "externalId": Filter("externalId"), **STAMPS},
        sorts=SORTS,
        ops=READ,
    ),
    # equipment systems
    Resource(
        "equipment",
        f"{EQUIPMENT}/installed-equipment",
        seed=1000,
        factory=r.installed_equipment,
        id_base=r.EQUIPMENT,
        filters={**IDS, "locationIds": Filter("locationId", custom=ids_filter), **ACTIVE, **STAMPS},
        sorts=SORTS,
        ops=WRITE,
        create=w.create_equipment,
        update=w.update_equipment,
        detail=w.equipment_detail,
        created=w.equipment_detail,
        updated=w.equipment_detail,
    ),
    Resource("equipment_custom_fields", f"{EQUIPMENT}/custom-fields", id_base=1400001, ops=NONE),
    Resource(
        "attachments", f"{EQUIPMENT}/installed-equipment/attachments", id_field="path", id_base=None, ops=NONE
    ),
    # accounting
    Resource(
        "invoices",
        f"{ACCOUNTING}/invoices",
        seed=r.SEEDED,
        factory=r.invoice,
        id_base=r.INVOICE,
        filters={
            **IDS,
            **ACTIVE_STATE,
            "jobId": Filter("job.id"),
            "jobNumber": Filter("job.number"),
            "number": Filter("referenceNumber"),
            "customerId": Filter("customer.id"),
            "businessUnitId": Filter("businessUnit.id"),
            "adjustmentToId": Filter("adjustmentToId"),
            "invoicedOnOrAfter": Filter("invoiceDate", "gte"),
            "invoicedOnBefore": Filter("invoiceDate", "lt"),
            "dueDateOnOrAfter": Filter("dueDate", "gte"),
            "dueDateBefore": Filter("dueDate", "lt"),
            **TOTALS,
            **STAMPS,
        },
        sorts=SORTS,
        ops=frozenset({"list", "create", "update"}),
        create=w.create_adjustment_invoice,
        update=w.update_invoice,
        created=lambda record: record["id"],
        updated=None,
    ),
    Resource(
        "invoice_items",
        f"{ACCOUNTING}/invoices/items",
        seed=r.ITEMS_PER_INVOICE * r.SEEDED,  # id slots only: items live in their invoice
        id_base=r.INVOICE_ITEM,
        ops=NONE,
    ),
    Resource(
        "payments",
        f"{ACCOUNTING}/payments",
        seed=500,
        factory=r.payment,
        id_base=r.PAYMENT,
        filters={
            **IDS,
            **ACTIVE_STATE,
            "customerId": Filter("customer.id"),
            "paidOnAfter": Filter("date", "gte"),
            "paidOnBefore": Filter("date", "lt"),
            "appliedToInvoiceIds": Filter("appliedTo", custom=any_id_filter("appliedTo")),
            "businessUnitIds": Filter("businessUnit.id", "in"),
            **TOTALS,
            **STAMPS,
        },
        sorts=SORTS,
        ops=frozenset({"list", "create", "update"}),
        create=w.create_payment,
        update=w.update_payment,
        created=w.payment_response,
        updated=w.payment_response,
    ),
)

# Custom endpoints come before the generated ones, so /customers/contacts is not read as /customers/{id}.
OPERATIONS = (
    Operation("POST", "/connect/token", token, public=True),
    Operation("PUT", f"{JPM}/jobs/{{id}}/cancel", w.cancel_job),
    Operation("DELETE", f"{JPM}/appointments/{{id}}", w.delete_appointment),
    Operation("POST", f"{DISPATCH}/appointment-assignments/assign-technicians", w.assign_technicians),
    Operation("POST", f"{DISPATCH}/appointment-assignments/unassign-technicians", w.unassign_technicians),
    Operation("GET", f"{CRM}/customers/contacts", w.list_modified_contacts),
    Operation("GET", f"{CRM}/customers/{{id}}/contacts", w.list_customer_contacts),
    Operation("POST", f"{CRM}/customers/{{id}}/contacts", w.create_customer_contact),
    Operation("PATCH", f"{CRM}/customers/{{id}}/contacts/{{contactId}}", w.update_customer_contact),
    Operation("DELETE", f"{CRM}/customers/{{id}}/contacts/{{contactId}}", w.delete_customer_contact),
    Operation("GET", PROVIDER_BOOKINGS, w.list_provider_bookings),
    Operation("POST", PROVIDER_BOOKINGS, w.create_booking),
    Operation("GET", f"{PROVIDER_BOOKINGS}/{{id}}", w.get_provider_booking),
    Operation("PATCH", f"{PROVIDER_BOOKINGS}/{{id}}", w.update_booking),
    Operation("POST", f"{EQUIPMENT}/installed-equipment/attachments", w.post_attachment),
    Operation("GET", f"{EQUIPMENT}/installed-equipment/attachments", w.get_attachment),
    Operation("PATCH", f"{ACCOUNTING}/invoices/custom-fields", w.update_invoice_custom_fields),
    Operation("PATCH", f"{ACCOUNTING}/invoices/{{invoiceId}}/items", w.update_invoice_items),
    Operation("DELETE", f"{ACCOUNTING}/invoices/{{invoiceId}}/items/{{itemId}}", w.delete_invoice_item),
    Operation("PATCH", f"{ACCOUNTING}/payments/custom-fields", w.update_payment_custom_fields),
)

VENDOR = Vendor(
    name="servicetitan",
    dialect=ServiceTitanDialect(),
    resources=RESOURCES,
    operations=OPERATIONS,
    partitions={TENANT: 1.0, OTHER_TENANT: 0.01},
    rate_limit=(60, 1.0),
    rules=Rules(request_rules, refuse),
)

__all__ = ["APP_KEY", "CLIENTS", "OTHER_TENANT", "RESOURCES", "TENANT", "VENDOR"]
