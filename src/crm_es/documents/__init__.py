"""Documents (F25): Jinja2 templates filled with the customer card, the rep and the deal
(``templates.py``), the built-in template of each kind (``defaults.py``), and the HTML and
PDF made from them (``render.py``). No I/O but reading a font file; no clock: the time a
document is issued arrives from the command.

May import: the domain only.
"""
