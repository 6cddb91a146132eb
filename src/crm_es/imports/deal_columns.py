"""Which column of a deals export fills what, named as HubSpot, Pipedrive and Salesforce
name them.

A header is read without regard to case, spaces or punctuation, and without a leading
"Deal - " / "Opportunity " (Pipedrive writes "Deal - Title", Salesforce "Opportunity
Name"): "Deal Name", "deal_name" and "Deal - Title" all fill ``title``. The targets and
their usual names are in ``ALIASES``; ``properties.NAME[:date]`` fills a custom deal
property, as for contacts. An entry ``Column=target`` of the mapping says it where the
header does not (``Column=`` ignores a column).

A deals file has one row per deal; stage changes (``old_id``, ``stage``, ``changed_at``)
come in a second file, or in the same one with a ``row_type`` column saying ``stage``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from crm_es.aggregates.base import InvalidInput
from crm_es.imports.mapping import (
    PROPERTY_PREFIX,
    ColumnMap,
    Target,
    entries_of,
    map_columns,
    parse_target,
)

# Each target and the other names exports give it (normalised: lower case, "_" between words).
ALIASES: dict[str, tuple[str, ...]] = {
    "old_id": ("id", "record_id", "deal_id", "opportunity_id", "external_id", "legacy_id", "crm_id", "source_id"),
    "row_type": ("type", "record_type", "row_kind", "kind"),
    "title": ("name", "deal_name", "deal_title", "opportunity_name", "opportunity"),
    "pipeline": ("pipeline_name", "deal_pipeline", "sales_pipeline"),
    "stage": ("stage_name", "deal_stage", "current_stage", "pipeline_stage", "to_stage", "new_stage", "stage_to"),
    "owner": ("owner_email", "owner_name", "owner_id", "deal_owner", "opportunity_owner", "assigned_to", "sales_rep",
              "rep", "rep_email", "user"),
    "company": ("company_name", "company_id", "account", "account_name", "organization", "organization_name",
                "organisation", "organisation_name", "org", "associated_company"),
    "contacts": ("contact_email", "contact_emails", "contact_e_mail", "contacts_emails", "person_email", "email",
                 "emails", "e_mail", "contact_ids"),
    "amount": ("value", "deal_value", "deal_amount", "opportunity_amount", "amount_value"),
    "currency": ("currency_code", "deal_currency", "iso_currency", "opportunity_currency", "currency_iso_code"),
    "created_at": ("created", "create_date", "created_date", "created_on", "date_created", "deal_created",
                   "creation_date", "add_time", "added", "opened_at", "open_date", "opened", "occurred_at"),
    "closed_at": ("close_date", "closed_date", "closed_on", "close_time", "closed", "closed_time",
                  "actual_close_date", "won_lost_date", "deal_closed_on"),
    "outcome": ("status", "deal_status", "result", "won_lost", "state"),
    "lost_reason": ("loss_reason", "reason_lost", "closed_lost_reason", "lost_because", "reason"),
    "competitor": ("lost_to", "competitor_name"),
    "source": ("lead_source", "deal_source", "original_source"),
    "expected_close": ("expected_close_date", "expected_close_on", "forecast_close_date", "estimated_close_date",
                       "target_close_date"),
    "changed_at": ("changed", "date", "entered_at", "date_entered", "stage_changed_at", "moved_at", "timestamp",
                   "update_time", "stage_change_date", "entered_stage_at", "time", "changed_on", "stage_date"),
}
TARGETS = tuple(ALIASES)
STAGE_TARGETS = ("old_id", "stage", "changed_at")  # what a stage-changes file holds
_BY_NAME = {alias: target for target, aliases in ALIASES.items() for alias in (target, *aliases)}
_PREFIXES = ("deal_", "opportunity_")


def normal(name: str) -> str:
    """``Deal - Close Date`` → ``deal_close_date``."""
    return re.sub(r"[^\w]+", "_", name.strip().casefold()).strip("_")


def deal_target(text: str, allowed: Collection[str] = TARGETS) -> Target | None:
    """A header or a mapping's target as what it fills; None for an empty one; ValueError
    for a name no target goes by."""
    text = text.strip()
    if not text:
        return None
    if text.startswith(PROPERTY_PREFIX):
        if "properties" not in allowed:
            raise ValueError("a stage changes file has no custom properties")
        return parse_target(text)
    name = normal(text)
    found = _BY_NAME.get(name)
    for prefix in _PREFIXES:
        if found is None and name.startswith(prefix):
            found = _BY_NAME.get(name.removeprefix(prefix))
    if found is None or found not in allowed:
        raise ValueError(f"{text!r} is not what a {'deal' if 'title' in allowed else 'stage change'} row holds "
                         f"(known: {', '.join(allowed)}{', properties.NAME' if 'title' in allowed else ''})")
    return Target(found)


def deal_columns(header: list[str], entries: Sequence[tuple[str, str]], dated: Collection[str] = ()) -> ColumnMap:
    """The deals file's mapping: ``old_id`` is needed, it makes a re-run find the deals it imported."""
    columns = map_columns(header, entries, lambda text: deal_target(text, (*TARGETS, "properties")), dated)
    if "old_id" not in columns.targets:
        raise InvalidInput("map", "no column is mapped to old_id: the deal's id in the old CRM identifies it, so that "
                                  "importing the file again adds nothing twice (map one, e.g. \"Deal ID=old_id\")")
    return columns


def stage_columns(header: list[str], entries: Sequence[tuple[str, str]]) -> ColumnMap:
    columns = map_columns(header, entries, lambda text: deal_target(text, STAGE_TARGETS))
    missing = [name for name in STAGE_TARGETS if name not in columns.targets]
    if missing:
        raise InvalidInput("map", f"the stage changes file has no column for {', '.join(missing)}: each row names the "
                                  "deal (old_id), the stage it entered and when (changed_at)")
    return columns


def split_entries(given: Sequence[str], deals_header: list[str],
                  stages_header: list[str] | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The mapping's entries for each file: an entry goes to the file that has its column
    (to both when both have it); one naming a column of neither is refused."""
    for_deals, for_stages = [], []
    folded_deals = {c.casefold() for c in deals_header}
    folded_stages = {c.casefold() for c in stages_header or ()}
    for column, target in entries_of(given):
        key = column.strip().casefold()
        if key in folded_deals:
            for_deals.append((column, target))
        if key in folded_stages:
            for_stages.append((column, target))
        if key not in folded_deals and key not in folded_stages:
            where = ", ".join(deals_header) + ("; stage changes file: " + ", ".join(stages_header)
                                               if stages_header is not None else "")
            raise InvalidInput("map", f"no column {column!r} in the file (its columns: {where})")
    return for_deals, for_stages
