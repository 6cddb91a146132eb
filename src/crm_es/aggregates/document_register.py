"""The registers documents are entered in (F25), each a small record saved in the same
save as the document it counts:

- ``NumberSeries``: the numbers of one kind in one year, gapless (``INV-2026-0001``,
  ``INV-2026-0002`` …). Two issuers reading the same last number both write the series'
  next version: the store lets one through and the other fails, decides again and takes
  the next number — no gap, no duplicate.
- ``ContactFile``: the documents issued to one contact, in order: what
  GET /contacts/{id}/documents reads (from the event store, not the read side).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event
from crm_es.aggregates.document_template import CONTRACT, INVOICE, QUOTE

PREFIX = {QUOTE: "Q", CONTRACT: "CTR", INVOICE: "INV"}


def series_id(kind: str, year: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:document-numbers:{kind}:{year}")


def file_id(contact_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:contact-documents:{contact_id}")


@dataclass(frozen=True)
class NumberSeries(Aggregate):
    kind: str
    year: int
    last: int  # the last sequence number given out

    class NumberTaken(Event):
        kind: str
        year: int
        sequence: int
        number: str
        document_id: UUID

    @classmethod
    def evolve(cls, state: NumberSeries | None, event: Event) -> NumberSeries:
        if isinstance(event, NumberSeries.NumberTaken):
            return NumberSeries(event.originator_id, event.originator_version, event.kind, event.year, event.sequence)
        raise TypeError(f"NumberSeries cannot apply {type(event).__qualname__}")


def next_number(series: NumberSeries | None, kind: str, year: int) -> str:
    """The number the next document of this kind and year gets."""
    return f"{PREFIX[kind]}-{year}-{(series.last if series else 0) + 1:04d}"


def take_number(series: NumberSeries | None, kind: str, year: int, document_id: UUID, meta: Meta) -> list[Event]:
    sequence = (series.last if series else 0) + 1
    fields = {"kind": kind, "year": year, "sequence": sequence, "number": next_number(series, kind, year),
              "document_id": document_id}
    if series is None:
        return [new_event(NumberSeries.NumberTaken, series_id(kind, year), 1, meta, **fields)]
    return [series.then(NumberSeries.NumberTaken, meta, **fields)]


@dataclass(frozen=True)
class ContactFile(Aggregate):
    contact_id: UUID
    documents: tuple[UUID, ...]  # oldest first

    class DocumentFiled(Event):
        """Ids, a kind and a number: nothing about the person (the document holds that, sealed)."""

        contact_id: UUID
        document_id: UUID
        kind: str
        number: str

    @classmethod
    def evolve(cls, state: ContactFile | None, event: Event) -> ContactFile:
        if isinstance(event, ContactFile.DocumentFiled):
            before = state.documents if state is not None else ()
            return ContactFile(event.originator_id, event.originator_version, event.contact_id,
                               (*before, event.document_id))
        raise TypeError(f"ContactFile cannot apply {type(event).__qualname__}")


def file_document(file: ContactFile | None, contact_id: UUID, document_id: UUID, kind: str, number: str,
                  meta: Meta) -> list[Event]:
    fields = {"contact_id": contact_id, "document_id": document_id, "kind": kind, "number": number}
    if file is None:
        return [new_event(ContactFile.DocumentFiled, file_id(contact_id), 1, meta, **fields)]
    return [file.then(ContactFile.DocumentFiled, meta, **fields)]
