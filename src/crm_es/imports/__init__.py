"""The CSV import: reading messy files (``csv_file.py``), dates and amounts in the formats
people type (``dates.py``, ``amounts.py``), the column mapping (``mapping.py``), contact and
deal rows checked as request bodies are (``rows.py``, ``deal_rows.py``, with the shapes in
``crm_es.inputs``). Deciding and writing the rows is the write side's
(``crm_es.commands.imports``, ``deal_imports``), through the one write pipeline.

May import: the domain, inputs, the store and the write side; never entry points.
"""
