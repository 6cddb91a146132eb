"""The HTTP edge (FastAPI): one router per resource (``routers/``), the request and answer
models (``schemas.py``, ``answers.py``), problem+json and the one table from a refusal's
category to its status (``problems.py``, ``statuses.py``), shared dependencies
(``deps.py``). Routers translate requests into commands and queries, nothing more.

May import: anything below it; nothing imports it but the CLI (``crm-es serve``).
"""
