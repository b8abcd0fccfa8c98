from .engine import drop_history_tables


def uninstall_hook(env):
    """Drop the customer history the KPI engine keeps between runs: plain
    tables of its own, which no model's removal takes along."""
    drop_history_tables(env.cr)
