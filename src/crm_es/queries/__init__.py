"""Every read, answered as plain rows or small typed tuples: SQL over the DuckDB read side
(lists, boards, analytics, the analysts' SQL, exports, what the automations read —
automations.py), and the records read from the event store itself (timelines,
documents, the past as of a moment).

May import: the domain (aggregates), the store, the projections (the read side's tables
and its catch-up), auth's roles and documents' templates. Never commands, policies or
entry points: they call these functions, not the other way round."""
