"""SQL helpers every part of the engine shares: the dimensions of a row,
the planner settings of its statements, the identity of a query."""

from contextlib import contextmanager

from odoo.tools import SQL

# The dimensions of a fact, in the column order of every row the engine
# yields: month, company_id, *DIMS, num, den, res_model, res_id.
DIMS = ("team_id", "user_id", "segment_id", "campaign_id", "source_id", "medium_id")
# The dimensions of figures taken from a partner (its salesperson, the
# salesperson's team, its segment): lifecycle stages, feedback, contacts,
# tickets.
PARTNER_DIMS = ("team_id", "user_id", "segment_id")
# GROUP BY of rows shaped month, company_id, *DIMS, ...: one per combination
GROUP_KEYS = SQL(", ").join(SQL(str(n)) for n in range(1, len(DIMS) + 3))

# Work memory of the engine's statements; the customer-month basis sorts
# millions of rows and gets twice as much.
WORK_MEM = "128MB"
BASIS_WORK_MEM = "256MB"
# The engine's statements aggregate whole tables, yet the planner misjudges
# joins on computed months and companies (by orders of magnitude) and picks
# nested loops and on-disk sorts: hash joins only, enough memory to
# aggregate in hash tables, no JIT compilation (it costs more than it saves
# on statements that run once).
ENGINE_SETTINGS = {"work_mem": WORK_MEM, "jit": "off", "enable_nestloop": "off"}


def dims(alias, supported=DIMS):
    """The dimension columns of ``alias`` in the order of ``DIMS``, NULL for
    those not in ``supported``."""
    return SQL(", ").join(
        SQL(
            "%s AS %s",
            SQL.identifier(alias, dim) if dim in supported else SQL("NULL::int"),
            SQL.identifier(dim),
        )
        for dim in DIMS
    )


def sql_key(sql):
    """A hashable identity of a query: its code and parameters."""
    return repr((sql.code, sql.params))


def set_local(cr, settings):
    cr.execute(
        SQL("; ").join(
            SQL("SET LOCAL %s = %s", SQL.identifier(name), value)
            for name, value in settings.items()
        )
    )


@contextmanager
def planner(cr, **settings):
    """Planner ``settings`` for the statements of the block, the previous
    values afterwards. When the block fails, the rollback of its savepoint or
    transaction undoes them (no statement can run in an aborted one)."""
    cr.execute(
        SQL(
            "SELECT %s",
            SQL(", ").join(SQL("current_setting(%s)", name) for name in settings),
        )
    )
    previous = dict(zip(settings, cr.fetchone(), strict=True))
    set_local(cr, settings)
    yield
    set_local(cr, previous)
