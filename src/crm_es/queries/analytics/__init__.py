"""The analysts' reports, in DuckDB SQL over the history tables (so each can be asked of
any past moment): movements, funnel, velocity …"""
