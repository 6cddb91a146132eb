"""Sample data, apart from the product: the demo company and the large generated data set.

* ``world.py`` — the sample seller's vocabulary (names, products, pipelines, reasons, what
  the interactions say), shared by both.
* ``scenario.py`` — the demo's scenario model: the records planned so far and the random
  streams that plan them; ``demo.py`` plans the organisation, companies, contacts and deals
  into it and ``demo_activity.py`` the daily life around them; ``demo.load_demo`` writes
  the plan through the command handlers (``crm_es.commands.execute``), as data entered over
  HTTP would be.
* ``generate/`` — ``crm-es generate``: years of history decided by the aggregates' own
  functions and written in bulk through the unit of work (``crm_es.commands.unit_of_work``).

What they may import: crm_es's public interfaces only — the aggregates (the domain's value
types and decisions), the commands (their handlers, ``execute``, the unit of work), the
store's facade (``crm_es.store``), the clock; never the entry points (``crm_es.entrypoints``),
the read side or a module's private names. The product never imports them: only the CLI's
entry point wires them in (``crm-es demo``, ``crm-es serve --demo``, ``crm-es generate``).
"""
