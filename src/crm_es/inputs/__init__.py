"""What callers send — a request body, a CSV row — as pydantic models: the field types
(strict times and dates, names, e-mails, amounts …) and the changes that both an HTTP
route and the CSV import check their input with, so both refuse the same values.

May import: the domain (aggregates) only. The entry points and the imports import these;
the models only the HTTP contract sends live with it (entrypoints/http/schemas.py)."""
