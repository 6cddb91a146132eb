"""contact_history: every version of a contact's standing (see projections/history.py).

Only what reports slice by — status, lifecycle stage, owner, company, source, tags and
whether the e-mail works — and never the person's name or contact details.
"""

from __future__ import annotations

from crm_es.projections.rows import EventRow, Op, version

HISTORY = "contact_history"


def registered(e: EventRow) -> list[Op]:
    d = e.data
    return [version(HISTORY, e, status=d["status"], lifecycle=None, owner_id=d["owner_id"], company_id=d["company_id"],
                    source=d["source"], tags=d["tags"], email_invalid=False)]


def details_changed(e: EventRow) -> list[Op]:
    d = e.data
    return [version(HISTORY, e, company_id=d["company_id"], source=d["source"], tags=d["tags"])]


def status_changed(e: EventRow) -> list[Op]:
    return [version(HISTORY, e, status=e.data["status"])]


def owner_changed(e: EventRow) -> list[Op]:
    return [version(HISTORY, e, owner_id=e.data["owner_id"])]


def lifecycle_changed(e: EventRow) -> list[Op]:
    return [version(HISTORY, e, lifecycle=e.data["stage"])]


def email_invalidated(e: EventRow) -> list[Op]:
    return [version(HISTORY, e, email_invalid=True)]


def email_revalidated(e: EventRow) -> list[Op]:
    return [version(HISTORY, e, email_invalid=False)]


def left_company(e: EventRow) -> list[Op]:
    return [version(HISTORY, e, company_id=None)]
