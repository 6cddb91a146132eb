"""Who may do what: API keys (stored hashed, revocable), the roles they carry, and the
rules that say which routes each role may call and whose records it may touch."""
