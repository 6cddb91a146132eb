"""Who may do what: API keys (stored hashed, revocable: ``api_keys.py``) and the roles they
carry, with the rules that say which routes each role may call and how far its reach goes
(``roles.py``, plain data). Whose records a key may change is decided by the write side
(``crm_es.commands.ownership``), from these rules.

May import: the domain, the store and the clock; never commands, queries or entry points.
"""
