"""The auditor's tools: the verification of the hash chain over the log (written by the
store: crm_es.store.chain), a record's state as it was at a past moment and a board as it
was (replayed from the log), and a customer's history exported for offline checking.

May import: the domain, the store and the queries; never the write side or entry points.
"""
