"""One computation over a set of companies: the facade bridges and models
use. It prepares the temporary tables the KPIs' sources need, on demand, and
answers the two queries of a declared KPI (see ``cubes``)."""

import logging
import time
from contextlib import ExitStack

from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.tools import SQL

from .cubes import Cubes
from .customers import CustomerMonths
from .history import RECENT_MONTHS, KeptHistory
from .lifecycle import LifecycleStages
from .purchases import Purchases
from .spells import Spells
from .sql import ENGINE_SETTINGS, planner
from .tables import SourceTables

_logger = logging.getLogger(__name__)

# when the figures were last recomputed (any run)
LAST_RUN_PARAM = "crm_strategic_kpi.last_run"

# step -> (the steps it reads, its method): the temporary tables a run
# prepares, each once, when a source needs it
STEPS = {
    "companies": ((), "_prepare_companies"),
    "kept_history": (("companies",), "_kept_history"),
    "leads": (("kept_history",), "_prepare_leads"),
    "messages": (("leads",), "_prepare_messages"),
    "won": (("leads",), "_prepare_won"),
    "customers": (("won",), "_prepare_customers"),
    "spells": (("customers",), "_prepare_spells"),
    "keep_history": (("spells",), "_keep_history"),
    "current": (("keep_history",), "_spells_as_of_now"),
    "products": (("companies",), "_prepare_products"),
    "basis": (("current", "products"), "_prepare_basis"),
    "lifespan": (("current",), "_prepare_lifespan"),
    "stage_spells": (("companies",), "_prepare_stage_spells"),
}
# what a run of KPIs prepares before it sums its cubes
RUN_STEPS = ("messages", "customers", "spells", "keep_history", "lifespan")

TEMP_TABLES = (
    "kpi_tmp_dim_ref",
    "kpi_tmp_stage_spell",
    "kpi_tmp_lifespan",
    "kpi_tmp_product_span",
    "kpi_tmp_basis",
    "kpi_tmp_customer_cube",
    "kpi_tmp_lifecycle_cube",
    "kpi_tmp_spell",
    "kpi_tmp_customer",
    "kpi_tmp_customer_base",
    "kpi_tmp_won",
    "kpi_tmp_message",
    "kpi_tmp_lead",
    "kpi_tmp_company",
)


class Run(
    SourceTables, Purchases, KeptHistory, Spells, CustomerMonths, LifecycleStages, Cubes
):
    """One computation over a set of companies, used as a context manager:
    the engine's planner settings and temporary tables last as long as the
    block.

    :param env: an Odoo environment (superuser rights are expected: the
        figures are company-wide facts, access is filtered when reading them)
    :param catalogue: the ``Catalogue`` of sources and KPIs
    :param companies: ``res.company`` recordset
    :param month_to: first day of the last month to compute
    :param month_from: first day of the first month to compute; the
        temporary tables then leave out what no month from it on needs (old
        closed leads, customer months more than a year before it), which
        keeps the nightly run of recent months small. ``None``: everything.
    :param history: whether the run reads the customer history an earlier
        run kept, when it can trust it (``"read"``), and otherwise keeps its
        own (``True``)
    :param now: the instant (UTC) the running month is counted to
        (default: now)
    :param users: for the records behind facts (drill-down): the salespeople
        (ids, None for none) of those facts; the run then reads only the
        leads and customers rows carrying one of them need (see
        ``_leads_of_users``). ``None``: all.
    """

    def __init__(
        self,
        env,
        catalogue,
        companies,
        month_to,
        month_from=None,
        history=False,
        users=None,
        now=None,
    ):
        self.env = env
        self.cr = env.cr
        self.catalogue = catalogue
        self.companies = companies
        self.month_to = month_to
        self.month_from = month_from
        # customer months the windows of month_from need (12 months back)
        self.basis_from = month_from and month_from - relativedelta(months=11)
        self.recent = bool(month_from) and month_from > month_to - relativedelta(
            months=RECENT_MONTHS
        )
        self.main_company_id = env.ref("base.main_company").id
        # company id -> timezone of its months (_prepare_companies)
        self._timezones = {}
        # company id -> code of its revenue source (_prepare_companies)
        self._revenue_source_of = {}
        self.history = history
        self.users = users
        # the instant the running month is counted to (UTC)
        self.now = now or fields.Datetime.now()
        # the cutoff month of the kept history this run reads (None: it
        # reads every won deal from the leads)
        self.history_cutoff = None
        # what the run did with the kept history: "read", "kept" or None
        self.history_state = None
        self._prepared = set()
        # whether kpi_tmp_spell counts the running month as of now already
        self._spells_current = False
        # (source, month expression) -> {"month", "measures", "table"}
        self._cubes = {}
        # source summing itself -> its cube table
        self._own_cubes = {}
        # the tables of materialize()
        self._materialized = set()
        self._stack = None

    def __enter__(self):
        self.drop()
        self._stack = ExitStack()
        settings = dict(ENGINE_SETTINGS)
        if self.users is not None:
            # a run for a few salespeople reads a few records through
            # indexes: nested loops suit it
            del settings["enable_nestloop"]
        self._stack.enter_context(planner(self.cr, **settings))
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self.drop()
            self._stack.close()
        return False

    def need(self, *steps):
        """Prepare the temporary tables of ``steps`` (see ``STEPS``) and
        those they read, each once per run."""
        for step in steps:
            if step in self._prepared:
                continue
            requires, method = STEPS[step]
            self.need(*requires)
            started = time.monotonic()
            getattr(self, method)()
            self._prepared.add(step)
            _logger.debug(
                "Strategic KPIs: %s in %.2f s", method, time.monotonic() - started
            )

    def prepare(self):
        """The tables every run of KPIs reads (the customer KPIs of a run
        read the customer cube, not the basis of customer months)."""
        self.need(*RUN_STEPS)

    def kpis(self, codes=None):
        """The declarations of the KPIs ``codes`` (default: all) this run can
        compute."""
        kpis = self.catalogue.kpis
        if codes is None:
            return list(kpis.values())
        return [kpis[code] for code in codes if code in kpis]

    def materialize(self, name, query, index=()):
        """The temporary table ``kpi_tmp_x_<name>`` of the rows of ``query``
        (an SQL), created on the first call of the run (later calls return
        it as it is) and dropped with the run's tables: what a bridge's
        sources read several times, computed once. ``index``: columns to
        index."""
        table = f"kpi_tmp_x_{name}"
        if table not in self._materialized:
            started = time.monotonic()
            self.cr.execute(
                SQL("CREATE TEMP TABLE %s AS %s", SQL.identifier(table), query)
            )
            if index:
                self.cr.execute(
                    SQL(
                        "CREATE INDEX ON %s (%s)",
                        SQL.identifier(table),
                        SQL(", ").join(SQL.identifier(column) for column in index),
                    )
                )
            self.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))
            self._materialized.add(table)
            _logger.debug(
                "Strategic KPIs: %s in %.2f s", table, time.monotonic() - started
            )
        return SQL.identifier(table)

    def drop(self):
        """Drop the run's temporary tables."""
        self.cr.execute(
            r"""
            SELECT tablename FROM pg_tables
             WHERE schemaname = pg_my_temp_schema()::regnamespace::text
               AND (tablename LIKE 'kpi\_tmp\_cube\_%'
                    OR tablename LIKE 'kpi\_tmp\_x\_%')
            """
        )
        cubes = [name for (name,) in self.cr.fetchall()]
        for table in (*cubes, *TEMP_TABLES):
            self.cr.execute(SQL("DROP TABLE IF EXISTS %s", SQL.identifier(table)))
        self._prepared = set()
        self._materialized = set()
        self._cubes = {}
        self._own_cubes = {}
