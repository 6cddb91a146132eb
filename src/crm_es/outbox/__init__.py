"""The outbox: how what the automations and the people queue reaches the world, at least
once, and what became of each message is recorded.

Here: the dispatcher (``dispatcher.py``: delivers due messages, fires due timers, records
each outcome through the write pipeline's unit of work), the senders (``senders.py``: SMTP,
SMS, webhooks — the borders we do not own) and the contact-frequency cap
(``caps.py``). Elsewhere, by layer: a message's life and its row are the domain's
(``aggregates/message.py``, ``aggregates/timer.py``); the table is the store's
(``store/outbox.py``, SQL per backend); which channels this process can send on is
configuration (``crm_es.channels``); ``GET /outbox`` is the HTTP edge's.

May import: the domain, the store, the write pipeline (``crm_es.commands.unit_of_work``),
the clock and the settings; never the automations, queries or entry points.
"""
