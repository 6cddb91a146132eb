"""Which column of the file fills which contact property, and how a cell becomes a value.

A mapping entry is ``column=property``. Properties: the contact's fields (first_name,
last_name, email, phone, job_title, city, source, status, tags), ``company`` (a company's
id or its name, as it is in the CRM), ``owner`` (a rep's id or e-mail), ``occurred_at``
(when the contact was created: an import from another CRM keeps its dates) and
``properties.NAME`` for custom properties — ``properties.NAME:date`` reads the cells as
dates and stores them as ISO dates (2026-03-01), as is done for every property the
configuration defines as a date. An empty property (``Notes=``) ignores
the column. A column whose header already names a property (``email``, ``first_name``,
``properties.budget``…) is mapped to it unless the mapping says otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from crm_es.aggregates.base import InvalidInput

TEXT_FIELDS = ("first_name", "last_name", "email", "phone", "job_title", "city", "source", "status")
TARGETS = (*TEXT_FIELDS, "tags", "company", "owner", "occurred_at")
ALIASES = {"company_id": "company", "company_name": "company", "owner_id": "owner", "created_at": "occurred_at",
           "e_mail": "email", "mail": "email"}
PROPERTY_PREFIX = "properties."
VALUE_KINDS = ("text", "date")


@dataclass(frozen=True)
class Target:
    name: str  # a TARGETS name, or properties.NAME
    kind: str = "text"  # for a property: how its cells are read

    @property
    def is_property(self) -> bool:
        return self.name.startswith(PROPERTY_PREFIX)


@dataclass(frozen=True)
class ColumnMap:
    by_index: dict[int, Target]  # the header's column index → what it fills
    header: list[str]

    @property
    def ignored(self) -> list[str]:
        return [name for i, name in enumerate(self.header) if i not in self.by_index]

    def column_of(self, target: str) -> str | None:
        return next((self.header[i] for i, t in self.by_index.items() if t.name == target), None)

    @property
    def targets(self) -> set[str]:
        return {t.name for t in self.by_index.values()}

    def as_dict(self) -> dict[str, str]:
        return {self.header[i]: t.name + (f":{t.kind}" if t.kind != "text" else "") for i, t in self.by_index.items()}


def _normal(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().casefold())


def parse_target(text: str) -> Target | None:
    """``email``, ``Company``, ``properties.signed_on:date``; None for an empty one."""
    text = text.strip()
    if not text:
        return None
    name, _, kind = text.partition(":")
    if name.startswith(PROPERTY_PREFIX) and len(name) > len(PROPERTY_PREFIX):
        if kind and kind not in VALUE_KINDS:
            raise ValueError(f"unknown kind {kind!r} (known: {', '.join(VALUE_KINDS)})")
        return Target(name, kind or "text")
    normal = _normal(name)
    normal = ALIASES.get(normal, normal)
    if kind or normal not in TARGETS:
        raise ValueError(f"{text!r} is not a contact property (known: {', '.join(TARGETS)}, properties.NAME)")
    return Target(normal)


def entries_of(given: Sequence[str]) -> list[tuple[str, str]]:
    """``column=property`` entries, or one JSON object ``{"column": "property"}``."""
    if len(given) == 1 and given[0].lstrip().startswith("{"):
        try:
            data = json.loads(given[0])
        except ValueError as error:
            raise InvalidInput("map", f"the mapping is not a JSON object: {error}") from error
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise InvalidInput("map", 'the mapping must be a JSON object of strings: {"column": "property"}')
        return list(data.items())
    entries = []
    for entry in given:
        column, equals, target = entry.rpartition("=")  # a header may hold "=", a property never does
        if not equals:
            raise InvalidInput("map", f"{entry!r} is not column=property")
        entries.append((column, target))
    return entries


def column_map(header: list[str], given: Sequence[str], dated: Collection[str] = ()) -> ColumnMap:
    """The mapping for this file: every entry must name a column of its header.
    ``dated``: the custom properties defined as dates (their cells are read as dates)."""
    columns = map_columns(header, entries_of(given), parse_target, dated)
    if "email" not in columns.targets:
        raise InvalidInput("map", "no column is mapped to email: the e-mail identifies each contact "
                                  "(map one, e.g. E-mail=email)")
    return columns


def map_columns(header: list[str], entries: Sequence[tuple[str, str]], parse: Callable[[str], Target | None],
                dated: Collection[str] = ()) -> ColumnMap:
    """The columns the entries name, then those whose header ``parse`` reads as a target
    (of a kind of record: contacts, deals), and no target filled twice."""
    index = {name: i for i, name in reversed(list(enumerate(header)))}
    folded = {name.casefold(): i for name, i in index.items()}
    by_index: dict[int, Target] = {}
    explicit: set[int] = set()
    for column, text in entries:
        i = index.get(column.strip(), folded.get(column.strip().casefold()))
        if i is None:
            raise InvalidInput("map", f"no column {column!r} in the file (its columns: {', '.join(header)})")
        try:
            target = parse(text)
        except ValueError as error:
            raise InvalidInput("map", f"{column}={text}: {error}") from error
        explicit.add(i)
        if target is not None:
            by_index[i] = target
    taken = {t.name for t in by_index.values()}
    for i, name in enumerate(header):  # headers that already name a property
        if i in explicit:
            continue
        try:
            target = parse(name)
        except ValueError:
            continue
        if target is not None and target.name not in taken:
            by_index[i] = target
            taken.add(target.name)
    for i, target in by_index.items():
        if target.is_property and target.name.removeprefix(PROPERTY_PREFIX) in dated:
            by_index[i] = Target(target.name, "date")
    names = [t.name for t in by_index.values()]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise InvalidInput("map", f"several columns fill {', '.join(doubled)}: map one column to each property")
    return ColumnMap(by_index, header)
