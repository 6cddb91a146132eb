"""The auditor's tools: the hash chain over the log, its verification, a record's state
as it was at a past moment, and a customer's history exported for offline checking."""
