"""Set-based computation of the strategic KPI catalogue (../spec/kpis.md).

The engine materialises a few temporary tables once per run (companies, leads,
won deals, customers and a per-customer-per-month activity basis) and then
expresses every KPI as one SQL sub-query over them. Each sub-query yields rows
of the uniform shape::

    month, company_id, team_id, user_id, segment_id, campaign_id, source_id,
    medium_id, num, den, res_model, res_id

which ``crm.kpi.value`` sums per month and dimension into fact rows (the rows
of a cube, one per month, company and dimensions already, as they are), and
which the drill-down filters to find the records behind a numerator.

Times are compared as local timestamps in the company's timezone, so a deal
won at 23:30 UTC on 31 January belongs to February in Europe/Berlin.
"""

import json
import logging
import time
from datetime import datetime, timedelta
from functools import partial

from dateutil.relativedelta import relativedelta

from odoo.tools import SQL

from .customer_intelligence import LIFECYCLE_STAGES
from .revenue import deal_revenue

_logger = logging.getLogger(__name__)

# How a KPI's months depend on the data: "month" KPIs read only the records of
# their own month; "forward" KPIs read customer state, which any change carries
# into every later month.
SCOPE_MONTH = "month"
SCOPE_FORWARD = "forward"

# work memory of the engine's statements (see KpiEngine.tune); the customer-
# month basis sorts millions of rows and gets twice as much
WORK_MEM = "128MB"
# A run of at most this many months (the nightly one) reads few records of
# the sources it filters by date: it looks their partners up one by one.
RECENT_MONTHS = 3
BASIS_WORK_MEM = "256MB"

# The customer history kept between runs (see KpiEngine._kept_history): won
# deals closed before a cutoff month and the activity spells made of them.
# A run keeps the deals before the second month before its last one (the
# first month of the shortest recompute of recent months); a later run uses
# them when it starts on or after that cutoff, at most this many months after
# it. HISTORY_VERSION changes whenever what the tables hold is computed
# differently: kept histories of another version are ignored.
HISTORY_MAX_AGE = 3
HISTORY_VERSION = 1
HISTORY_TABLES = (
    "crm_kpi_history_stamp",
    "crm_kpi_history_won",
    "crm_kpi_history_spell",
)
# the state of a nightly run in progress (see crm.kpi.value._run_incremental)
RUN_STATE_PARAM = "crm_strategic_kpi.pending_run"
# when the figures were last recomputed (any run)
LAST_RUN_PARAM = "crm_strategic_kpi.last_run"
WON_COLUMNS = (
    "id",
    "company_id",
    "customer_id",
    "team_id",
    "closed_at",
    "closed_month",
    "revenue",
    "deal_type",
    "campaign_id",
    "source_id",
    "medium_id",
    "rn",
    "prev_at",
)
SPELL_COLUMNS = (
    "company_id",
    "customer_id",
    "start_at",
    "end_at",
    "next_start",
    "next_end",
    "prev_end",
    "first_month",
    "last_month",
    "end_from",
    "continued",
)


def create_history_tables(cr):
    """(Re)create the tables of the kept customer history, empty. They are a
    cache the engine rebuilds from the CRM's data whenever it cannot trust
    them: unlogged (a crash empties them, stamps included, and the next run
    rebuilds them) and dropped with every update of the module (the next run
    computes from the data again)."""
    drop_history_tables(cr)
    cr.execute(
        """
        CREATE UNLOGGED TABLE crm_kpi_history_stamp (
            company_id int PRIMARY KEY, version int NOT NULL,
            cutoff date NOT NULL, tz text NOT NULL, churn_days int NOT NULL);
        CREATE UNLOGGED TABLE crm_kpi_history_won (
            id int, company_id int, customer_id int, team_id int,
            closed_at timestamp, closed_month date, revenue numeric,
            deal_type varchar, campaign_id int, source_id int, medium_id int,
            rn bigint, prev_at timestamp);
        CREATE UNLOGGED TABLE crm_kpi_history_spell (
            company_id int, customer_id int, start_at timestamp,
            end_at timestamp, next_start timestamp, next_end timestamp,
            prev_end timestamp, first_month date, last_month date,
            end_from date, continued boolean);
        """
    )


def drop_history_tables(cr):
    cr.execute(
        SQL(
            "DROP TABLE IF EXISTS %s",
            SQL(", ").join(SQL.identifier(table) for table in HISTORY_TABLES),
        )
    )


DIMS = ("team_id", "user_id", "segment_id", "campaign_id", "source_id", "medium_id")
# GROUP BY of rows shaped month, company_id, *DIMS, ...: one per combination
GROUP_KEYS = SQL(", ").join(SQL(str(n)) for n in range(1, len(DIMS) + 3))

TEMP_TABLES = (
    "kpi_tmp_target",
    "kpi_tmp_total",
    "kpi_tmp_dim_ref",
    "kpi_tmp_stage_spell",
    "kpi_tmp_lifespan",
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


def _dims(alias, supported=DIMS):
    """Dimension columns of ``alias``, NULL for those a KPI does not support."""
    return SQL(", ").join(
        SQL(
            "%s AS %s",
            SQL.identifier(alias, dim) if dim in supported else SQL("NULL::int"),
            SQL.identifier(dim),
        )
        for dim in DIMS
    )


LEAD_DIMS = DIMS
CUSTOMER_DIMS = DIMS
COST_DIMS = ("team_id", "campaign_id")
FEEDBACK_DIMS = ("team_id", "user_id", "segment_id")


class KpiEngine:
    """One computation run over a set of companies.

    :param env: an Odoo environment (superuser rights are expected: the
        figures are company-wide facts, access is filtered when reading them)
    :param companies: ``res.company`` recordset
    :param month_to: first day of the last month to compute
    :param month_from: first day of the first month to compute; the
        temporary tables then leave out what no month from it on needs (old
        closed leads, customer months more than a year before it), which
        keeps the nightly run of recent months small. ``None``: everything.
    """

    def __init__(self, env, companies, month_to, month_from=None, history=False):
        self.env = env
        self.cr = env.cr
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
        # None: KPI queries yield one row per record (drill-down); "collect":
        # they register their measures; "cube": they read the summed cubes
        self.mode = None
        # (source, month expression) -> {"month", "measures", "table"}
        self._cubes = {}
        # keys of the sub-queries that read a cube as it is (see is_cube_read)
        self._cube_reads = set()
        # whether the KPIs of a run read the customer and lifecycle cubes
        # (build_cubes)
        self._customer_cube = False
        self._lifecycle_cube = False
        # a recompute run (``history``) reads the customer history kept by an
        # earlier run when it can trust it, and keeps its own otherwise
        self.history = history
        # the cutoff month of the kept history this run reads (None: it
        # reads every won deal from the leads)
        self.history_cutoff = None
        # what the run did with the kept history: "read", "kept" or None
        self.history_state = None

    # ------------------------------------------------------------ preparation
    def drop(self):
        self.cr.execute(
            r"""
            SELECT tablename FROM pg_tables
             WHERE schemaname = pg_my_temp_schema()::regnamespace::text
               AND tablename LIKE 'kpi\_tmp\_cube\_%'
            """
        )
        cubes = [name for (name,) in self.cr.fetchall()]
        for table in (*cubes, *TEMP_TABLES):
            self.cr.execute(SQL("DROP TABLE IF EXISTS %s", SQL.identifier(table)))
        self.mode = None
        self._cubes = {}
        self._cube_reads = set()
        self._customer_cube = False
        self._lifecycle_cube = False
        self.untune(self.cr)

    @staticmethod
    def tune(cr):
        """Planner settings for the engine's statements, until ``untune`` or
        the end of the transaction. They aggregate whole tables, yet the
        planner misjudges joins on computed months and companies (by orders
        of magnitude) and picks nested loops and on-disk sorts: hash joins
        only, enough memory to aggregate in hash tables, no JIT compilation
        (it costs more than it saves on statements that run once)."""
        cr.execute(
            SQL(
                "SET LOCAL work_mem = %s; SET LOCAL jit = off; "
                "SET LOCAL enable_nestloop = off",
                WORK_MEM,
            )
        )

    @staticmethod
    def untune(cr):
        cr.execute("RESET work_mem; RESET jit; RESET enable_nestloop")

    def prepare(self, basis=True):
        """Build the shared temporary tables (once per run). ``basis``: also
        the customer-month basis and the lifecycle stage spells, which the
        per-record rows of the customer and lifecycle KPIs read (a run sums
        them straight from the activity and stage spells instead, see
        ``_build_customer_cube`` and ``_build_lifecycle_cube``)."""
        self.drop()
        self.tune(self.cr)
        self.history_cutoff = None
        self.history_state = None
        for step in (
            self._prepare_companies,
            self._kept_history if self.history else None,
            self._prepare_leads,
            self._prepare_messages,
            self._prepare_won,
            self._prepare_customers,
            self._prepare_spells,
            self._keep_history if self.history else None,
            self._prepare_basis if basis else None,
            self._prepare_lifespan,
            self._prepare_stage_spells if basis else None,
        ):
            if step is None:
                continue
            started = time.monotonic()
            step()
            _logger.debug(
                "Strategic KPIs: %s in %.2f s",
                step.__name__,
                time.monotonic() - started,
            )

    def _prepare_companies(self):
        self._timezones = {
            company.id: company._get_kpi_timezone() for company in self.companies
        }
        rows = [
            SQL(
                "(%s, %s, %s, %s, %s)",
                company.id,
                self._timezones[company.id],
                company.kpi_churn_days,
                company.kpi_clv_margin,
                company.currency_id.id,
            )
            for company in self.companies
        ]
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_company (
                    id int PRIMARY KEY, tz text, churn_days int,
                    margin numeric, currency_id int)
                """
            )
        )
        if rows:
            self.cr.execute(
                SQL("INSERT INTO kpi_tmp_company VALUES %s", SQL(", ").join(rows))
            )
        self.cr.execute("ANALYZE kpi_tmp_company")

    def _local(self, column, tz=None):
        """A UTC timestamp column as the local timestamp in ``tz`` (default:
        the timezone of the row's company ``co``)."""
        return SQL("timezone(%s, timezone('UTC', %s))", tz or SQL("co.tz"), column)

    def _segment_of(self, partner_id):
        """(column, join) giving the segment of partner ``partner_id``. A run
        of recent months looks the few partners it needs up by id (a join
        reads every partner: the engine's statements forbid nested loops);
        a longer run joins them."""
        if self.recent:
            column = SQL(
                "(SELECT sp.kpi_segment_id FROM res_partner sp WHERE sp.id = %s)",
                partner_id,
            )
            return column, SQL()
        return SQL("sp.kpi_segment_id"), SQL(
            "LEFT JOIN res_partner sp ON sp.id = %s", partner_id
        )

    def _timezone_of(self, company):
        """The timezone of company ``company`` (an expression), as a CASE
        over the run's companies. Records are matched with their company this
        way, filtered with ``company = ANY(<the run's companies>)``, rather
        than joined with ``kpi_tmp_company``: the planner cannot estimate
        that join on an expression (it takes it for 1 % of the rows) and then
        hashes hundreds of thousands of records instead of the small side."""
        if not self._timezones:
            return SQL("NULL::text")
        return SQL(
            "CASE %s %s END",
            company,
            SQL(" ").join(
                SQL("WHEN %s THEN %s", company_id, tz)
                for company_id, tz in self._timezones.items()
            ),
        )

    def _since(self, column):
        """``column`` (a date) falls in the computed months: a run of recent
        months leaves the older records of dated sources unread."""
        if not self.month_from:
            return SQL("TRUE")
        return SQL("%s >= %s", column, self.month_from)

    def _prepare_leads(self):
        """Leads with their company, customer, local dates and the deal type
        set on them (a won deal's derived type is ``kpi_tmp_won``'s)."""
        # local times computed once per lead
        company = SQL("COALESCE(l.company_id, t.company_id, %s)", self.main_company_id)
        tz = self._timezone_of(company)
        created = self._local(SQL("l.create_date"), tz)
        closed = self._local(SQL("l.date_closed"), tz)
        segment, segment_join = self._segment_of(SQL("p.commercial_partner_id"))
        if self.recent:
            # the won deals of customers' histories need no segment
            segment = SQL("CASE WHEN %s THEN %s END", self._leads_in_run(), segment)
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_lead AS
                SELECT b.*,
                       date_trunc('month', b.created_at)::date AS create_month,
                       date_trunc('month', b.closed_at)::date AS closed_month
                  FROM (
                    SELECT l.id, %(company)s AS company_id,
                           l.team_id, l.user_id,
                           p.commercial_partner_id AS customer_id,
                           %(segment)s AS segment_id,
                           l.campaign_id, l.source_id, l.medium_id,
                           l.type, l.won_status, l.active,
                           l.create_date, l.date_closed,
                           %(created)s AS created_at,
                           %(closed)s AS closed_at,
                           (l.date_conversion IS NOT NULL OR l.won_status = 'won')
                               AS converted,
                           %(revenue)s AS revenue,
                           (l.kpi_referrer_id IS NOT NULL
                            OR COALESCE(l.source_id = ANY(%(referral)s), FALSE))
                               AS referral,
                           l.kpi_deal_type AS deal_type
                      FROM crm_lead l
                      LEFT JOIN crm_team t ON t.id = l.team_id
                      LEFT JOIN res_partner p ON p.id = l.partner_id
                      %(segment_join)s
                     WHERE %(company)s = ANY(%(companies)s)
                       AND %(relevant)s) b
                """,
                segment=segment,
                segment_join=segment_join,
                company=company,
                companies=list(self._timezones),
                created=created,
                closed=closed,
                revenue=deal_revenue("l"),
                referral=self._referral_sources(),
                relevant=self._relevant_leads(),
            )
        )
        self.cr.execute("ANALYZE kpi_tmp_lead")

    def _referral_sources(self):
        """Ids of the lead sources marked as referrals (a handful)."""
        self.cr.execute(
            "SELECT COALESCE(array_agg(id), '{}') FROM utm_source WHERE kpi_is_referral"
        )
        return self.cr.fetchone()[0]

    def _relevant_leads(self):
        """Leads the months from ``month_from`` on need: every won deal (the
        customers' history) and the leads of those months. A run that reads
        the kept history needs only the won deals from its cutoff month on
        (a day earlier: local months start before UTC ones)."""
        if not self.month_from:
            return SQL("TRUE")
        if self.history_cutoff:
            return SQL(
                "((l.won_status = 'won' AND l.date_closed >= %s) OR %s)",
                self.history_cutoff - timedelta(days=1),
                self._leads_in_run(),
            )
        return SQL("(l.won_status = 'won' OR %s)", self._leads_in_run())

    def _leads_in_run(self):
        """Leads still open, and those created or closed from ``month_from``
        on (a day earlier: local months start before UTC ones)."""
        since = self.month_from - timedelta(days=1)
        return SQL(
            """(l.date_closed IS NULL OR l.date_closed >= %(since)s
                OR l.create_date >= %(since)s)""",
            since=since,
        )

    def _prepare_messages(self):
        """Done activities per deal (messages that carry an activity type) of
        the deals closed in the computed months. When those deals are few
        against all messages (a run of recent months), their messages are
        looked up one deal at a time through mail's (model, res_id) index
        instead of reading every message (an index lookup costs about ten
        messages read in sequence)."""
        lookup = False
        if self.month_from:
            self.cr.execute(
                SQL(
                    """SELECT (SELECT COUNT(*) FROM kpi_tmp_lead
                                WHERE closed_month >= %s) * 10
                              < (SELECT reltuples FROM pg_class
                                  WHERE oid = 'mail_message'::regclass)""",
                    self.month_from,
                )
            )
            lookup = self.cr.fetchone()[0]
        if lookup:
            query = SQL(
                """
                SELECT l.id AS lead_id, msg.done
                  FROM kpi_tmp_lead l
                 CROSS JOIN LATERAL (
                       SELECT COUNT(*) AS done FROM mail_message m
                        WHERE m.model = 'crm.lead' AND m.res_id = l.id
                          AND m.mail_activity_type_id IS NOT NULL) msg
                 WHERE l.closed_month >= %s AND msg.done > 0
                """,
                self.month_from,
            )
        else:
            query = SQL(
                """
                SELECT m.res_id AS lead_id, COUNT(*) AS done
                  FROM mail_message m
                 WHERE m.model = 'crm.lead' AND m.mail_activity_type_id IS NOT NULL
                 GROUP BY m.res_id
                """
            )
        self.cr.execute(SQL("CREATE TEMP TABLE kpi_tmp_message AS %s", query))
        # unique: the planner leaves the join out of the sums that do not
        # read the activities
        self.cr.execute(
            "CREATE UNIQUE INDEX ON kpi_tmp_message (lead_id); ANALYZE kpi_tmp_message"
        )

    def _prepare_won(self):
        """Won deals of customers in the order they were won (closed, then
        by id). A deal without a deal type is new business when it is its
        customer's first won deal (``rn`` 1), else an upsell.

        A run that reads the kept history takes the deals before its cutoff
        month from it and numbers the later ones after them: their number
        and predecessor continue those of the customer's kept deals."""
        if self.history_cutoff:
            self.cr.execute(
                SQL(
                    """
                    CREATE TEMP TABLE kpi_tmp_won AS
                    WITH fresh AS (
                        SELECT * FROM kpi_tmp_lead
                         WHERE won_status = 'won' AND customer_id IS NOT NULL
                           AND closed_at IS NOT NULL AND closed_month >= %(cutoff)s
                    ), kept AS (
                        SELECT h.company_id, h.customer_id, MAX(h.rn) AS n,
                               MAX(h.closed_at) AS last_at
                          FROM crm_kpi_history_won h
                         WHERE h.company_id = ANY(%(companies)s)
                           AND (h.company_id, h.customer_id) IN (
                                   SELECT company_id, customer_id FROM fresh)
                         GROUP BY h.company_id, h.customer_id
                    )
                    SELECT %(columns)s FROM crm_kpi_history_won
                     WHERE company_id = ANY(%(companies)s)
                     UNION ALL
                    SELECT f.id, f.company_id, f.customer_id, f.team_id,
                           f.closed_at, f.closed_month, f.revenue,
                           COALESCE(f.deal_type,
                                    CASE WHEN COALESCE(k.n, 0) + ROW_NUMBER() OVER w = 1
                                         THEN 'new' ELSE 'upsell' END),
                           f.campaign_id, f.source_id, f.medium_id,
                           COALESCE(k.n, 0) + ROW_NUMBER() OVER w,
                           COALESCE(LAG(f.closed_at) OVER w, k.last_at)
                      FROM fresh f
                      LEFT JOIN kept k USING (company_id, customer_id)
                    WINDOW w AS (PARTITION BY f.company_id, f.customer_id
                                 ORDER BY f.closed_at, f.id)
                    """,
                    cutoff=self.history_cutoff,
                    companies=list(self._timezones),
                    columns=SQL(", ").join(SQL.identifier(c) for c in WON_COLUMNS),
                )
            )
        else:
            self.cr.execute(
                """
                CREATE TEMP TABLE kpi_tmp_won AS
                SELECT id, company_id, customer_id, team_id, closed_at, closed_month,
                       revenue,
                       COALESCE(deal_type,
                                CASE WHEN ROW_NUMBER() OVER w = 1 THEN 'new'
                                     ELSE 'upsell' END) AS deal_type,
                       campaign_id, source_id, medium_id,
                       ROW_NUMBER() OVER w AS rn,
                       LAG(closed_at) OVER w AS prev_at
                  FROM kpi_tmp_lead
                 WHERE won_status = 'won' AND customer_id IS NOT NULL
                   AND closed_at IS NOT NULL
                WINDOW w AS (PARTITION BY company_id, customer_id
                             ORDER BY closed_at, id)
                """
            )
        self.cr.execute("ANALYZE kpi_tmp_won")

    def _prepare_customers(self):
        """Customers per company: salesperson and segment from the partner,
        acquisition channel from the first won deal. Odoo 18 removed the sales
        team of partners: the customer's team is its salesperson's main team,
        else the team of its first won deal. ``dim_group`` numbers the
        combinations of company and dimensions (see _build_customer_cube):
        the few thousand combinations are found by hashing and numbered
        alone, instead of sorting every customer by eight columns."""
        dims = SQL(", ").join(SQL.identifier(dim) for dim in DIMS)
        self.cr.execute(
            """
            CREATE TEMP TABLE kpi_tmp_customer_base AS
            SELECT w.company_id, w.customer_id, w.closed_at AS first_at,
                   w.campaign_id, w.source_id, w.medium_id,
                   COALESCE(u.sale_team_id, w.team_id) AS team_id,
                   cp.user_id, cp.kpi_segment_id AS segment_id,
                   (COALESCE(cp.email, '') <> ''
                    AND COALESCE(cp.phone, '') <> ''
                    AND cp.country_id IS NOT NULL) AS complete
              FROM kpi_tmp_won w
              JOIN res_partner cp ON cp.id = w.customer_id
              LEFT JOIN res_users u ON u.id = cp.user_id
             WHERE w.rn = 1
            """
        )
        # a merge join would sort the customers by the eight columns again
        self.cr.execute("SET LOCAL enable_mergejoin = off")
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_customer AS
                WITH groups AS (
                    SELECT company_id, %(dims)s,
                           ROW_NUMBER() OVER (ORDER BY company_id, %(dims)s)
                               AS dim_group
                      FROM (SELECT DISTINCT company_id, %(dims)s
                              FROM kpi_tmp_customer_base) d
                )
                SELECT q.*, g.dim_group
                  FROM kpi_tmp_customer_base q
                  JOIN groups g
                    ON g.company_id = q.company_id
                   AND %(same_dims)s
                """,
                dims=dims,
                same_dims=SQL(" AND ").join(
                    # equal keys (no record has the id 0) for a hash join
                    SQL(
                        "COALESCE(g.%s, 0) = COALESCE(q.%s, 0)",
                        SQL.identifier(dim),
                        SQL.identifier(dim),
                    )
                    for dim in DIMS
                ),
            )
        )
        self.cr.execute("DROP TABLE kpi_tmp_customer_base")
        self.cr.execute("RESET enable_mergejoin")
        self.cr.execute(
            "CREATE UNIQUE INDEX ON kpi_tmp_customer (company_id, customer_id); "
            "ANALYZE kpi_tmp_customer"
        )

    def _prepare_spells(self):
        """Activity spells of every customer.

        A won deal at instant w makes its customer active for every instant t
        with t - churn_days < w <= t, i.e. on [w, w + churn_days). Consecutive
        deals closer than churn_days merge into one spell; spells of a
        customer are disjoint and, churn_days being at least 31, a month
        touches at most two of them (one ending, the next starting).

        Each spell also carries the months the lifespan and the customer
        cube count it in: it covers the starts of the months ``first_month``
        to ``last_month``; the customer-month basis counts it active at the
        ends of the months ``end_from`` to ``last_month`` - 1 (``end_from``
        is the month of its start, or the month before when it starts at a
        month's very start right after a spell that ended in that month:
        the earlier spell's row of that month looks at it); ``continued``:
        the next spell covers the start of the month after ``last_month``."""
        if self.history_cutoff:
            # the kept spells of customers without a deal since the cutoff
            # are as they were; the others' spells are made anew
            query = self._spells_around(
                SQL("crm_kpi_history_spell"), self.history_cutoff, before=False
            )
        else:
            query = self._spells_of(SQL("kpi_tmp_won"))
        self.cr.execute(SQL("CREATE TEMP TABLE kpi_tmp_spell AS %s", query))
        self.cr.execute("ANALYZE kpi_tmp_spell")

    def _spells_of(self, won):
        """The activity spells (``SPELL_COLUMNS``) of the won deals ``won``
        (a table or sub-query shaped as ``kpi_tmp_won``)."""
        return SQL(
            """
            WITH marked AS (
                SELECT w.*, co.churn_days,
                       CASE WHEN w.prev_at IS NULL
                              OR w.closed_at > w.prev_at
                                               + co.churn_days * INTERVAL '1 day'
                            THEN 1 ELSE 0 END AS new_spell
                  FROM %(won)s w
                  JOIN kpi_tmp_company co ON co.id = w.company_id
            ), numbered AS (
                SELECT *, SUM(new_spell) OVER (
                           PARTITION BY company_id, customer_id
                           ORDER BY closed_at, id) AS spell
                  FROM marked
            ), spells AS (
                SELECT company_id, customer_id,
                       MIN(closed_at) AS start_at,
                       MAX(closed_at) + MAX(churn_days) * INTERVAL '1 day'
                           AS end_at
                  FROM numbered
                 GROUP BY company_id, customer_id, spell
            ), linked AS (
                SELECT *, LEAD(start_at) OVER w AS next_start,
                       LEAD(end_at) OVER w AS next_end,
                       LAG(end_at) OVER w AS prev_end
                  FROM spells
                WINDOW w AS (PARTITION BY company_id, customer_id ORDER BY start_at)
            ), months AS (
                SELECT *,
                       (date_trunc('month', start_at)
                        + CASE WHEN start_at = date_trunc('month', start_at)
                               THEN INTERVAL '0' ELSE INTERVAL '1 month'
                          END)::date AS first_month,
                       date_trunc('month', end_at - INTERVAL '1 microsecond')::date
                           AS last_month,
                       CASE WHEN start_at = date_trunc('month', start_at)
                             AND date_trunc('month', prev_end)
                                 = start_at - INTERVAL '1 month'
                            THEN (start_at - INTERVAL '1 month')::date
                            ELSE date_trunc('month', start_at)::date
                       END AS end_from
                  FROM linked
            )
            SELECT company_id, customer_id, start_at, end_at, next_start,
                   next_end, prev_end, first_month, last_month, end_from,
                   COALESCE(next_start <= last_month + INTERVAL '1 month'
                            AND last_month + INTERVAL '1 month' < next_end,
                            FALSE) AS continued
              FROM months
            """,
            won=won,
        )

    def _spells_around(self, spells, cutoff, before):
        """Spells (``SPELL_COLUMNS``) of the run's customers around a cutoff
        month: those in the table ``spells`` for customers without a won deal
        from ``cutoff`` on; for the others, spells made of their won deals
        (with ``before``, of those before the cutoff only)."""
        later = SQL(
            "SELECT company_id, customer_id FROM kpi_tmp_won WHERE closed_month >= %s",
            cutoff,
        )
        return SQL(
            """
            SELECT %(columns)s FROM %(spells)s s
             WHERE s.company_id = ANY(%(companies)s)
               AND NOT EXISTS (
                   SELECT 1 FROM kpi_tmp_won w
                    WHERE w.company_id = s.company_id
                      AND w.customer_id = s.customer_id
                      AND w.closed_month >= %(cutoff)s)
             UNION ALL
            SELECT * FROM (%(made)s) made
            """,
            columns=SQL(", ").join(SQL.identifier("s", c) for c in SPELL_COLUMNS),
            spells=spells,
            companies=list(self._timezones),
            cutoff=cutoff,
            made=self._spells_of(
                SQL(
                    "(SELECT * FROM kpi_tmp_won "
                    "WHERE %s (company_id, customer_id) IN (%s))",
                    SQL("closed_month < %s AND", cutoff) if before else SQL(),
                    later,
                )
            ),
        )

    # ------------------------------------------------------------ kept history
    def _history_cutoff_of_run(self):
        """The cutoff month of the history a run keeps: the first month of
        the shortest run of recent months ending with its last month."""
        return self.month_to - relativedelta(months=RECENT_MONTHS - 1)

    def _history_tables_exist(self):
        self.cr.execute("SELECT to_regclass('crm_kpi_history_stamp') IS NOT NULL")
        return self.cr.fetchone()[0]

    def _kept_history(self):
        """Decide whether this run reads the customer history kept by an
        earlier run (sets ``history_cutoff``). It does when that history can
        be trusted for every company of the run:

        - it was kept by this version of the engine, with the timezone and
          churn period the company has now, at the same cutoff month for all;
        - the run starts on or after the cutoff, at most ``HISTORY_MAX_AGE``
          months after it;
        - no change before the cutoff month waits in the recompute queue or
          in the state of an interrupted nightly run.
          Every change of a lead or partner a won deal depends on queues the
          days of that deal (before and after the change). A change of a
          deal kept in the history thus queues a day before the cutoff, and
          the nightly run that consumes it starts before the cutoff: it
          reads every deal from the leads and keeps a new history.
        """
        if not self.month_from or not self._timezones:
            return
        if not self._history_tables_exist():
            return
        self.cr.execute(
            SQL(
                """
                SELECT COUNT(*), MIN(h.cutoff), MAX(h.cutoff),
                       bool_and(h.version = %(version)s AND h.tz = co.tz
                                AND h.churn_days = co.churn_days)
                  FROM kpi_tmp_company co
                  JOIN crm_kpi_history_stamp h ON h.company_id = co.id
                """,
                version=HISTORY_VERSION,
            )
        )
        count, cutoff, last_cutoff, same = self.cr.fetchone()
        if (
            count != len(self._timezones)
            or not same
            or cutoff != last_cutoff
            or cutoff > self.month_from
            or cutoff < self.month_from - relativedelta(months=HISTORY_MAX_AGE)
        ):
            return
        # a queued UTC day may belong to the local month before it
        self.cr.execute(
            SQL(
                """SELECT EXISTS (SELECT 1 FROM crm_kpi_changed_day
                                   WHERE company_id = ANY(%s) AND day <= %s)""",
                list(self._timezones),
                cutoff,
            )
        )
        if self.cr.fetchone()[0]:
            return
        # a nightly run interrupted after it took the queue holds the changed
        # months in its state until it resumes
        self.cr.execute(
            "SELECT value FROM ir_config_parameter WHERE key = %s", (RUN_STATE_PARAM,)
        )
        row = self.cr.fetchone()
        state = json.loads(row[0]) if row and row[0] else None
        if state and any(
            company_id in self._timezones and month < cutoff.isoformat()
            for _scope, company_id, month in state["targets"]
        ):
            return
        self.history_cutoff = cutoff
        self.history_state = "read"

    def _keep_history(self):
        """Keep the won deals before this run's cutoff month and the spells
        made of them for later runs, replacing the kept history of the run's
        companies. Only a run that read every won deal from the leads keeps
        one."""
        if self.history_cutoff or not self._timezones:
            return
        if not self._history_tables_exist():
            return
        companies = list(self._timezones)
        cutoff = self._history_cutoff_of_run()
        # histories of other (existing) companies stay
        self.cr.execute(
            SQL(
                """SELECT EXISTS (SELECT 1 FROM crm_kpi_history_stamp h
                                   JOIN res_company c ON c.id = h.company_id
                                  WHERE h.company_id <> ALL(%s))""",
                companies,
            )
        )
        if self.cr.fetchone()[0]:
            for table in HISTORY_TABLES:
                self.cr.execute(
                    SQL(
                        "DELETE FROM %s WHERE company_id = ANY(%s)",
                        SQL.identifier(table),
                        companies,
                    )
                )
        else:
            # the run's companies hold all of it (with deleted companies)
            self.cr.execute(
                SQL(
                    "TRUNCATE %s",
                    SQL(", ").join(SQL.identifier(table) for table in HISTORY_TABLES),
                )
            )
        columns = SQL(", ").join(SQL.identifier(c) for c in WON_COLUMNS)
        self.cr.execute(
            SQL(
                "INSERT INTO crm_kpi_history_won (%s) "
                "SELECT %s FROM kpi_tmp_won WHERE closed_month < %s",
                columns,
                columns,
                cutoff,
            )
        )
        # the spells of customers without a deal from the cutoff on are
        # those of the run; the others' are made of their earlier deals
        self.cr.execute(
            SQL(
                "INSERT INTO crm_kpi_history_spell (%s) %s",
                SQL(", ").join(SQL.identifier(c) for c in SPELL_COLUMNS),
                self._spells_around(SQL("kpi_tmp_spell"), cutoff, before=True),
            )
        )
        self.cr.execute(
            SQL(
                """
                INSERT INTO crm_kpi_history_stamp
                       (company_id, version, cutoff, tz, churn_days)
                SELECT id, %s, %s, tz, churn_days FROM kpi_tmp_company
                """,
                HISTORY_VERSION,
                cutoff,
            )
        )
        # the planner's estimates for the next run's joins (it may come in
        # the same transaction, before autovacuum analyses the new rows)
        self.cr.execute("ANALYZE crm_kpi_history_won, crm_kpi_history_spell")
        self.history_state = "kept"

    def _deal_months(self):
        """Won deals per customer and month from the eleven months before
        ``month_from`` on (what the 12-month revenue of its months needs):
        count, revenue, whether the customer's first deal or an upsell is
        among them. Revenue stays numeric: sums of floats depend on the order
        of their terms, and a rerun must give the same customer lifetime
        values to the last digit."""
        return SQL(
            """
            SELECT company_id, customer_id, closed_month AS month,
                   COUNT(*)::int AS n, SUM(revenue) AS revenue,
                   bool_or(rn = 1) AS has_first,
                   bool_or(deal_type IN ('upsell', 'cross_sell')) AS has_upsell
              FROM kpi_tmp_won
             WHERE %(window_from)s::date IS NULL
                OR closed_month >= %(window_from)s
             GROUP BY company_id, customer_id, closed_month
            """,
            window_from=self.basis_from,
        )

    def _prepare_basis(self):
        """One row per customer and month in which the customer is active at
        the start or the end of the month (or wins a deal in it), from
        ``month_from`` on. The deals of the eleven months before it still
        count in the 12-month revenue (as helper rows of the window), those
        before it in the deal count (as an offset)."""
        # its sort of millions of customer months fits in memory with twice
        # the engine's work memory (measured: 13.4 s instead of 15 s on
        # 2.3 M customer months), for this statement only
        self.cr.execute(SQL("SET LOCAL work_mem = %s", BASIS_WORK_MEM))
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_basis AS
                WITH state AS (
                    -- The months of each spell, one row per customer and
                    -- month: a month shared by a spell's end and the next
                    -- one's start (never more than two) is the row of the
                    -- earlier spell, which also looks at the next one for
                    -- the month's end (the next one starts after the earlier
                    -- one ends, so never at the shared month's start).
                    SELECT s.company_id, s.customer_id, m::date AS month,
                           s.start_at <= m AND m < s.end_at AS active_start,
                           (s.start_at <= m + INTERVAL '1 month'
                            AND m + INTERVAL '1 month' < s.end_at)
                           OR COALESCE(s.next_start <= m + INTERVAL '1 month'
                                       AND m + INTERVAL '1 month' < s.next_end,
                                       FALSE) AS active_end,
                           FALSE AS helper
                      FROM kpi_tmp_spell s
                     CROSS JOIN LATERAL generate_series(
                           GREATEST(date_trunc('month', s.start_at)
                                    + CASE WHEN date_trunc('month', s.prev_end)
                                                = date_trunc('month', s.start_at)
                                           THEN INTERVAL '1 month'
                                           ELSE INTERVAL '0' END,
                                    %(from)s::timestamp),
                           LEAST(date_trunc('month', s.end_at), %(to)s::timestamp),
                           INTERVAL '1 month') m
                ), deals AS (
                    %(deals)s
                ), before AS (
                    SELECT company_id, customer_id, COUNT(*)::int AS n
                      FROM kpi_tmp_won
                     WHERE closed_month < %(from)s
                     GROUP BY company_id, customer_id
                ), months AS (
                    SELECT * FROM state
                     UNION ALL
                    SELECT company_id, customer_id, month, FALSE, FALSE, TRUE
                      FROM deals
                     WHERE month < %(from)s
                ), windowed AS (
                    SELECT r.*, d.n, d.has_first, d.has_upsell,
                           SUM(CASE WHEN r.helper THEN 0 ELSE COALESCE(d.n, 0) END)
                               OVER w_all AS run_deals,
                           SUM(COALESCE(d.revenue, 0)) OVER w_12m AS revenue_12m
                      FROM (SELECT *, (date_part('year', month) * 12
                                       + date_part('month', month))::int AS mi
                              FROM months) r
                      LEFT JOIN deals d USING (company_id, customer_id, month)
                    -- months as integers: framing 11 integers back is cheaper
                    -- than 11 months of dates (calendar arithmetic per row)
                    WINDOW w_all AS (PARTITION BY r.company_id, r.customer_id
                                     ORDER BY r.mi ROWS UNBOUNDED PRECEDING),
                           w_12m AS (PARTITION BY r.company_id, r.customer_id
                                     ORDER BY r.mi
                                     RANGE BETWEEN 11 PRECEDING AND CURRENT ROW)
                )
                SELECT w.company_id, w.customer_id, w.month,
                       c.team_id, c.user_id, c.segment_id, c.campaign_id,
                       c.source_id, c.medium_id, c.complete,
                       w.active_start, w.active_end,
                       (w.active_start AND NOT w.active_end) AS churned,
                       COALESCE(w.has_first, FALSE) AS is_new,
                       (COALESCE(w.n, 0) > 0 AND NOT COALESCE(w.has_first, FALSE)
                        AND NOT w.active_start) AS reactivated,
                       COALESCE(w.has_upsell, FALSE) AS has_upsell,
                       COALESCE(w.n, 0) AS deals,
                       COALESCE(bf.n, 0) + w.run_deals AS deals_to_date,
                       w.revenue_12m
                  FROM windowed w
                  JOIN kpi_tmp_customer c USING (company_id, customer_id)
                  LEFT JOIN before bf USING (company_id, customer_id)
                 WHERE NOT w.helper
                """,
                to=self.month_to,
                deals=self._deal_months(),
                **{"from": self.month_from},
            )
        )
        self.cr.execute(SQL("SET LOCAL work_mem = %s", WORK_MEM))
        self.cr.execute("ANALYZE kpi_tmp_basis")

    def _prepare_stage_spells(self):
        self.cr.execute(
            SQL("CREATE TEMP TABLE kpi_tmp_stage_spell AS %s", self._stage_spells())
        )
        self.cr.execute(
            "CREATE INDEX ON kpi_tmp_stage_spell (to_stage); "
            "ANALYZE kpi_tmp_stage_spell"
        )

    def _stage_spells(self):
        """Every lifecycle event with the date of the partner's next one: the
        spell during which the partner stayed in that stage."""
        return SQL(
            """
            SELECT ev.*, u.sale_team_id AS team_id, p.user_id,
                   p.kpi_segment_id AS segment_id
              FROM (SELECT partner_id, company_id, to_stage, date,
                           LEAD(date) OVER (PARTITION BY partner_id
                                            ORDER BY date, id) AS next_date
                      FROM crm_kpi_lifecycle_event) ev
              JOIN kpi_tmp_company co ON co.id = ev.company_id
              JOIN res_partner p ON p.id = ev.partner_id
              LEFT JOIN res_users u ON u.id = p.user_id
             -- the spells that reach into the computed months
             WHERE ev.next_date IS NULL OR %s
            """,
            self._since(SQL("ev.next_date")),
        )

    def _prepare_lifespan(self):
        """Expected customer lifespan in years per company and month:
        1 / annual churn, annual churn being the customers churned in the 12
        months ending M over those active at the start of M-11; capped at 10
        years, 10 when nobody churned. When nobody was active 12 months
        before but some churned (only possible with a churn period under a
        year), the annual churn is taken as 100 %."""
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_lifespan AS
                WITH covered AS (
                    -- per spell, the first and last month whose start it
                    -- covers, within the computed months
                    SELECT s.company_id, s.continued,
                           GREATEST(s.first_month, %(from)s::date) AS first_at,
                           LEAST(s.last_month, %(to)s::date) AS last_at,
                           s.last_month AS end_month
                      FROM kpi_tmp_spell s
                ), events AS (
                    -- a spell counts as active at the start of its covered
                    -- months (+1 at the first, -1 after the last); its
                    -- customer churns in the last one, the month its spell
                    -- ends, unless the next spell (the only candidate)
                    -- covers the following month's start
                    SELECT company_id, first_at AS month, 1 AS starts,
                           0 AS churned
                      FROM covered WHERE first_at <= last_at
                     UNION ALL
                    SELECT company_id, (last_at + INTERVAL '1 month')::date, -1, 0
                      FROM covered WHERE first_at <= last_at
                     UNION ALL
                    SELECT company_id, last_at, 0, 1
                      FROM covered
                     WHERE first_at <= last_at AND last_at = end_month
                       AND NOT continued
                ), totals AS (
                    SELECT company_id, month, SUM(starts) AS starts,
                           SUM(churned) AS churned
                      FROM events
                     GROUP BY company_id, month
                ), bounds AS (
                    -- from the month of the first activity (the customers won
                    -- then are active at its end: they have a CLV)
                    SELECT LEAST(GREATEST(MIN(date_trunc('month', start_at))::date,
                                          %(from)s::date),
                                 %(to)s::date) AS first_month
                      FROM kpi_tmp_spell
                ), months AS (
                    SELECT co.id AS company_id, m::date AS month
                      FROM kpi_tmp_company co, bounds b
                     CROSS JOIN LATERAL generate_series(
                           COALESCE(b.first_month, %(to)s::date)::timestamp,
                           %(to)s::timestamp, INTERVAL '1 month') m
                ), series AS (
                    SELECT m.company_id, m.month,
                           COALESCE(t.churned, 0) AS churned,
                           SUM(COALESCE(t.starts, 0)) OVER (
                               PARTITION BY m.company_id ORDER BY m.month
                               ROWS UNBOUNDED PRECEDING) AS active_start
                      FROM months m
                      LEFT JOIN totals t USING (company_id, month)
                ), windowed AS (
                    SELECT company_id, month, churned, active_start,
                           SUM(churned) OVER (PARTITION BY company_id ORDER BY month
                                              ROWS BETWEEN 11 PRECEDING
                                                   AND CURRENT ROW) AS churned_12m,
                           COALESCE(LAG(active_start, 11) OVER (
                               PARTITION BY company_id ORDER BY month), 0)
                               AS active_before
                      FROM series
                )
                SELECT company_id, month, churned, active_start,
                       CASE WHEN churned_12m = 0 THEN 10::numeric
                            WHEN active_before = 0 THEN 1::numeric
                            ELSE LEAST(10::numeric,
                                       active_before::numeric / churned_12m)
                       END AS lifespan
                  FROM windowed
                """,
                to=self.month_to,
                **{"from": self.basis_from},
            )
        )
        # unique: CLV reads its cube rows joined to it as they are
        self.cr.execute(
            "CREATE UNIQUE INDEX ON kpi_tmp_lifespan (company_id, month); "
            "ANALYZE kpi_tmp_lifespan"
        )

    # ------------------------------------------------------------ measures
    # The per-record sources most KPIs share: (FROM clause, alias of the row
    # carrying company and dimensions, model and id of the record behind it).
    SOURCES = {
        "lead": (
            SQL(
                """kpi_tmp_lead l
                   LEFT JOIN kpi_tmp_message msg ON msg.lead_id = l.id
                   LEFT JOIN kpi_tmp_customer c
                     ON c.company_id = l.company_id AND c.customer_id = l.customer_id"""
            ),
            "l",
            "crm.lead",
            SQL("l.id"),
        ),
        "basis": (
            SQL("kpi_tmp_basis b"),
            "b",
            "res.partner",
            SQL("b.customer_id"),
        ),
    }

    def _measure_rows(self, source, month, num, den, where):
        """Rows of a KPI that reads one of the shared ``SOURCES``: each row of
        the source satisfying ``where`` counts ``num`` over ``den`` in
        ``month``.

        Outside a run (drill-down) the result has one row per record. During
        a run (``build_cubes``), all measures of a source are summed in one
        pass over it into a cube per month, company and dimensions, and the
        KPI reads its two columns of the cube: a dozen KPIs over a million
        leads or customer months cost one scan instead of a dozen."""
        from_clause, alias, model, res_id = self.SOURCES[source]
        key = (source, self._sql_key(month))
        measure = (self._sql_key(num), self._sql_key(den), self._sql_key(where))
        if self.mode == "collect":
            cube = self._cubes.setdefault(key, {"month": month, "measures": {}})
            cube["measures"].setdefault(measure, (num, den, where))
            return SQL("SELECT NULL")
        cube = self._cubes.get(key)
        if self.mode == "cube" and cube and measure in cube["measures"]:
            # a measure's columns are numbered in the order it was collected
            index = list(cube["measures"]).index(measure)
            query = SQL(
                """
                SELECT k.month, k.company_id, %(dims)s,
                       %(num)s::numeric AS num, %(den)s::numeric AS den,
                       NULL::varchar AS res_model, NULL::int AS res_id
                  FROM %(table)s k
                """,
                dims=_dims("k"),
                num=SQL.identifier("k", f"n{index}"),
                den=SQL.identifier("k", f"d{index}"),
                table=SQL.identifier(cube["table"]),
            )
            self._cube_reads.add(self._sql_key(query))
            return query
        return SQL(
            """
            SELECT %(month)s AS month, %(alias)s.company_id, %(dims)s,
                   (%(num)s)::numeric AS num, (%(den)s)::numeric AS den,
                   %(model)s AS res_model, %(res_id)s AS res_id
              FROM %(from)s
             WHERE %(where)s
            """,
            month=month,
            alias=SQL.identifier(alias),
            dims=_dims(alias),
            num=num,
            den=den,
            model=model,
            res_id=res_id,
            where=where,
            **{"from": from_clause},
        )

    @staticmethod
    def _sql_key(sql):
        return repr((sql.code, sql.params))

    def build_cubes(self, builders):
        """Sum the measures that ``builders`` read from the shared sources,
        one pass per source, into temporary cubes; from then on the builders
        read the cubes."""
        self.mode = "collect"
        try:
            for builder in builders:
                builder()
        finally:
            self.mode = None
        for number, (key, cube) in enumerate(self._cubes.items()):
            from_clause, alias, _model, _res_id = self.SOURCES[key[0]]
            started = time.monotonic()
            cube["table"] = f"kpi_tmp_cube_{number}"
            measures = cube["measures"].values()
            columns = [
                SQL(
                    "SUM(CASE WHEN %(w)s THEN %(n)s ELSE 0 END) AS %(nc)s, "
                    "SUM(CASE WHEN %(w)s THEN %(d)s ELSE 0 END) AS %(dc)s",
                    w=where,
                    n=num,
                    d=den,
                    nc=SQL.identifier(f"n{position}"),
                    dc=SQL.identifier(f"d{position}"),
                )
                for position, (num, den, where) in enumerate(measures)
            ]
            month = cube["month"]
            self.cr.execute(
                SQL(
                    """
                    CREATE TEMP TABLE %(table)s AS
                    SELECT %(month)s AS month, %(alias)s.company_id, %(dims)s,
                           %(columns)s
                      FROM %(from)s
                     WHERE %(month)s >= %(first)s AND (%(any)s)
                     GROUP BY %(keys)s
                    """,
                    table=SQL.identifier(cube["table"]),
                    keys=GROUP_KEYS,
                    month=month,
                    alias=SQL.identifier(alias),
                    dims=_dims(alias),
                    columns=SQL(", ").join(columns),
                    first=self.month_from or "-infinity",
                    any=SQL(" OR ").join(
                        SQL("(%s)", where) for _n, _d, where in measures
                    ),
                    **{"from": from_clause},
                )
            )
            self.cr.execute(SQL("ANALYZE %s", SQL.identifier(cube["table"])))
            _logger.debug(
                "Strategic KPIs: cube of %s by %s with %s measures in %.2f s",
                key[0],
                month.code,
                len(columns),
                time.monotonic() - started,
            )
        tables = [cube["table"] for cube in self._cubes.values()]
        for needed, build, table in (
            (self._customer_cube, self._build_customer_cube, "kpi_tmp_customer_cube"),
            (
                self._lifecycle_cube,
                self._build_lifecycle_cube,
                "kpi_tmp_lifecycle_cube",
            ),
        ):
            if needed:
                started = time.monotonic()
                build()
                tables.append(table)
                _logger.debug(
                    "Strategic KPIs: %s in %.2f s", table, time.monotonic() - started
                )
        # the dimension records the cubes refer to (see dimensions_alive)
        references = [
            SQL(
                "SELECT %s::text AS dim, %s AS id FROM %s WHERE %s IS NOT NULL",
                dim,
                SQL.identifier(dim),
                SQL.identifier(table),
                SQL.identifier(dim),
            )
            for table in tables
            for dim in DIMS
        ] or [SQL("SELECT NULL::text AS dim, NULL::int AS id WHERE FALSE")]
        self.cr.execute(
            SQL(
                "CREATE TEMP TABLE kpi_tmp_dim_ref AS %s",
                SQL(" UNION ").join(references),
            )
        )
        self.mode = "cube"

    def _build_customer_cube(self):
        """The measures of the customer KPIs per month, company and customer
        dimensions, summed straight from the activity spells and won deals:
        what summing the customer-month basis gives (see ``_prepare_basis``),
        without its row per customer and month.

        A spell counts as active at the starts of the months ``first_month``
        to ``last_month`` and at the ends of the months ``end_from`` to
        ``last_month`` - 1 (see ``_prepare_spells``). Every state (active at
        the start, at the end, a repeat customer at the end, the 12-month
        revenue of customers active at the end) changes at a few months per
        spell or deal: +n where it begins, -n after it ends; summed up to
        each month, the changes give the month's state. The flows (new
        customers, upsells, churns) count in their own month. A run of recent
        months moves earlier changes to its first month.

        Changes are summed per month and ``dim_group`` (a number per company
        and dimensions: cheaper to hash than eight columns), by hashing: the
        planner cannot estimate the rows of these expressions."""
        self.cr.execute("SET LOCAL enable_sort = off")
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_customer_cube AS
                WITH customers AS (
                    SELECT c.company_id, c.customer_id, c.dim_group, c.complete,
                           date_trunc('month', c.first_at)::date AS first_deal_month,
                           second.closed_month AS second_month
                      FROM kpi_tmp_customer c
                      LEFT JOIN kpi_tmp_won second
                        ON second.company_id = c.company_id
                       AND second.customer_id = c.customer_id AND second.rn = 2
                ), covered AS (
                    SELECT s.company_id, s.customer_id, c.dim_group, c.complete,
                           s.first_month, s.last_month, s.end_from, s.continued,
                           GREATEST(s.end_from, c.second_month) AS repeat_from,
                           c.second_month IS NOT NULL
                           AND GREATEST(s.end_from, c.second_month) < s.last_month
                               AS repeats
                      FROM kpi_tmp_spell s
                      JOIN customers c USING (company_id, customer_id)
                     WHERE s.first_month <= s.last_month
                       -- a spell that ends before the first computed month
                       -- changes nothing from it on
                       AND %(ends_in_run)s
                ), spans AS (
                    -- the revenue of a deal counts in the 12-month revenue of
                    -- the twelve months from its month on, in those its
                    -- customer is active at the end (per spell); sums being
                    -- exact, deal by deal (no need to sum them per customer
                    -- and month first)
                    SELECT c.dim_group, w.revenue,
                           GREATEST(w.closed_month, c.end_from) AS lo,
                           LEAST((w.closed_month + INTERVAL '11 months')::date,
                                 (c.last_month - INTERVAL '1 month')::date) AS hi
                      FROM kpi_tmp_won w
                      JOIN covered c USING (company_id, customer_id)
                     WHERE %(revenue_window)s
                ), upsells AS (
                    -- customers with an upsell or cross-sell in a month
                    SELECT DISTINCT company_id, customer_id, closed_month AS month
                      FROM kpi_tmp_won
                     WHERE deal_type IN ('upsell', 'cross_sell')
                       AND %(upsell_in_run)s
                ), changes AS (
                    -- states: active at the start, at the end (complete
                    -- customers apart), a repeat customer at the end (from
                    -- its second deal's month on), the 12-month revenue;
                    -- flows: a new customer, an upsell, a churn (a spell
                    -- churns in its last month unless the next one covers
                    -- the following month's start)
                    SELECT dim_group, first_month AS month, 1 AS d_start,
                           0 AS d_end, 0 AS d_complete, 0 AS d_repeat,
                           0::numeric AS d_revenue, 0 AS is_new, 0 AS upsell,
                           0 AS churned
                      FROM covered
                     UNION ALL
                    SELECT dim_group, (last_month + INTERVAL '1 month')::date, -1,
                           0, 0, 0, 0, 0, 0, 0
                      FROM covered
                     UNION ALL
                    SELECT dim_group, end_from, 0, 1, complete::int,
                           (repeats AND repeat_from = end_from)::int, 0, 0, 0, 0
                      FROM covered
                     UNION ALL
                    SELECT dim_group, last_month, 0, -1, -complete::int,
                           -repeats::int, 0, 0, 0, (NOT continued)::int
                      FROM covered
                     UNION ALL
                    SELECT dim_group, repeat_from, 0, 0, 0, 1, 0, 0, 0, 0
                      FROM covered
                     WHERE repeats AND repeat_from <> end_from
                     UNION ALL
                    SELECT dim_group, lo, 0, 0, 0, 0, revenue, 0, 0, 0
                      FROM spans WHERE lo <= hi
                     UNION ALL
                    SELECT dim_group, (hi + INTERVAL '1 month')::date, 0, 0, 0, 0,
                           -revenue, 0, 0, 0
                      FROM spans WHERE lo <= hi
                     UNION ALL
                    SELECT dim_group, first_deal_month, 0, 0, 0, 0, 0, 1, 0, 0
                      FROM customers
                     WHERE %(new_in_run)s
                     UNION ALL
                    SELECT c.dim_group, u.month, 0, 0, 0, 0, 0, 0, 1, 0
                      FROM upsells u
                      JOIN customers c USING (company_id, customer_id)
                ), grouped AS (
                    -- changes of states before the first computed month
                    -- count from it, flows only in their month
                    SELECT GREATEST(month, %(from)s::date) AS month, dim_group,
                           SUM(d_start) AS d_start, SUM(d_end) AS d_end,
                           SUM(d_complete) AS d_complete, SUM(d_repeat) AS d_repeat,
                           SUM(d_revenue) AS d_revenue,
                           COALESCE(SUM(is_new) FILTER (WHERE %(in_run)s), 0)
                               AS is_new,
                           COALESCE(SUM(upsell) FILTER (WHERE %(in_run)s), 0)
                               AS upsell,
                           COALESCE(SUM(churned) FILTER (WHERE %(in_run)s), 0)
                               AS churned
                      FROM changes
                     WHERE month <= %(to)s
                     GROUP BY 1, 2
                ), filled AS (
                    -- every month from a group's first event on: the sums
                    -- reach the months without changes
                    SELECT * FROM grouped
                     UNION ALL
                    SELECT m::date, g.dim_group, 0, 0, 0, 0, 0::numeric, 0, 0, 0
                      FROM (SELECT dim_group, MIN(month) AS first
                              FROM grouped GROUP BY dim_group) g
                     CROSS JOIN LATERAL generate_series(
                           g.first::timestamp, %(to)s::timestamp, INTERVAL '1 month') m
                ), dense AS (
                    SELECT month, dim_group,
                           SUM(d_start) AS d_start, SUM(d_end) AS d_end,
                           SUM(d_complete) AS d_complete, SUM(d_repeat) AS d_repeat,
                           SUM(d_revenue) AS d_revenue, SUM(is_new) AS is_new,
                           SUM(upsell) AS upsell, SUM(churned) AS churned
                      FROM filled
                     GROUP BY month, dim_group
                ), summed AS (
                    SELECT month, dim_group,
                           SUM(d_start) OVER w AS active_start,
                           SUM(d_end) OVER w AS active_end,
                           SUM(d_complete) OVER w AS complete_end,
                           SUM(d_repeat) OVER w AS repeat,
                           SUM(d_revenue) OVER w AS revenue_12m,
                           is_new, upsell, churned
                      FROM dense
                    WINDOW w AS (PARTITION BY dim_group ORDER BY month
                                 ROWS UNBOUNDED PRECEDING)
                )
                SELECT s.month, g.company_id, %(g_dims)s, s.active_start,
                       s.active_end, s.complete_end, s.repeat, s.revenue_12m,
                       s.is_new, s.upsell, s.churned
                  FROM summed s
                  JOIN (SELECT DISTINCT ON (dim_group) * FROM kpi_tmp_customer) g
                    USING (dim_group)
                 WHERE s.active_start <> 0 OR s.active_end <> 0 OR s.is_new <> 0
                    OR s.upsell <> 0 OR s.churned <> 0
                """,
                g_dims=_dims("g"),
                in_run=self._since(SQL("month")),
                ends_in_run=self._since(SQL("s.last_month")),
                new_in_run=self._since(SQL("first_deal_month")),
                upsell_in_run=self._since(SQL("closed_month")),
                revenue_window=SQL(
                    "%s::date IS NULL OR w.closed_month >= %s",
                    self.basis_from,
                    self.basis_from,
                ),
                to=self.month_to,
                **{"from": self.month_from},
            )
        )
        self.cr.execute("RESET enable_sort")
        self.cr.execute("ANALYZE kpi_tmp_customer_cube")

    def is_cube_read(self, query):
        """Whether ``query`` reads two columns of a cube as they are: one row
        per month, company and dimensions."""
        return self._sql_key(query) in self._cube_reads

    @staticmethod
    def dimensions_alive(cr, tables):
        """Whether every dimension record the cubes refer to still exists.
        ``tables``: {dimension: table of its records}. A record deleted since
        the cubes were summed (by another transaction, or between the KPIs of
        a nightly run, which commits after each) makes the facts of cube reads
        go through the mapping of deleted references."""
        if not tables:
            return True
        cr.execute(
            SQL(
                "SELECT %s",
                SQL(" OR ").join(
                    SQL(
                        """EXISTS (SELECT 1 FROM kpi_tmp_dim_ref r
                                    WHERE r.dim = %s AND NOT EXISTS (
                                          SELECT 1 FROM %s t WHERE t.id = r.id))""",
                        dim,
                        SQL.identifier(table),
                    )
                    for dim, table in tables.items()
                ),
            )
        )
        return not cr.fetchone()[0]

    # ------------------------------------------------------------ KPI queries
    def queries(self):
        """code -> (scope, sub-query builder). Extended by the helpdesk addon
        through ``crm.kpi.value._get_kpi_queries``."""
        return {
            "lead_count": (SCOPE_MONTH, self._q_lead_count),
            "conversion_rate": (SCOPE_MONTH, self._q_conversion_rate),
            "close_rate": (SCOPE_MONTH, self._q_close_rate),
            "won_count": (SCOPE_MONTH, self._q_won_count),
            "won_revenue": (SCOPE_MONTH, self._q_won_revenue),
            "new_revenue": (SCOPE_MONTH, self._q_new_revenue),
            "sales_cycle_days": (SCOPE_MONTH, self._q_sales_cycle_days),
            "open_deals": (SCOPE_FORWARD, self._q_open_deals),
            "activities_per_lead": (SCOPE_MONTH, self._q_activities_per_lead),
            "retention_rate": (SCOPE_FORWARD, self._q_retention_rate),
            "churn_rate": (SCOPE_FORWARD, self._q_churn_rate),
            "new_customers": (SCOPE_MONTH, self._q_new_customers),
            "repeat_customers": (SCOPE_FORWARD, self._q_repeat_customers),
            "clv": (SCOPE_FORWARD, self._q_clv),
            "nps": (SCOPE_MONTH, self._q_nps),
            "ces": (SCOPE_MONTH, self._q_ces),
            "cac": (SCOPE_MONTH, self._q_cac),
            "retention_cost": (SCOPE_FORWARD, self._q_retention_cost),
            "marketing_roi": (SCOPE_MONTH, self._q_marketing_roi),
            "traffic_to_lead": (SCOPE_MONTH, self._q_traffic_to_lead),
            "renewal_rate": (SCOPE_MONTH, self._q_renewal_rate),
            "cross_sell_rate": (SCOPE_FORWARD, self._q_cross_sell_rate),
            "referrals": (SCOPE_MONTH, self._q_referrals),
            "logins_per_user": (SCOPE_MONTH, self._q_logins_per_user),
            "records_created": (SCOPE_MONTH, self._q_records_created),
            "data_completeness": (SCOPE_FORWARD, self._q_data_completeness),
            **{
                f"lifecycle_{stage}": (SCOPE_FORWARD, partial(self._q_lifecycle, stage))
                for stage, _label in LIFECYCLE_STAGES
            },
        }

    # Lead based ---------------------------------------------------------
    def _lead_rows(self, month, num, den, where):
        return self._measure_rows("lead", month, num, den, where)

    def _q_lead_count(self):
        return self._lead_rows(SQL("l.create_month"), SQL("1"), SQL("0"), SQL("TRUE"))

    def _q_conversion_rate(self):
        return self._lead_rows(
            SQL("l.create_month"), SQL("l.converted::int"), SQL("1"), SQL("TRUE")
        )

    def _q_close_rate(self):
        return self._lead_rows(
            SQL("l.closed_month"),
            SQL("(l.won_status = 'won')::int"),
            SQL("1"),
            SQL("l.won_status IN ('won', 'lost') AND l.closed_month IS NOT NULL"),
        )

    def _won(self):
        return SQL("l.won_status = 'won' AND l.closed_month IS NOT NULL")

    def _q_won_count(self):
        return self._lead_rows(SQL("l.closed_month"), SQL("1"), SQL("0"), self._won())

    def _q_won_revenue(self):
        return self._lead_rows(
            SQL("l.closed_month"), SQL("l.revenue"), SQL("0"), self._won()
        )

    def _q_new_revenue(self):
        return self._lead_rows(
            SQL("l.closed_month"),
            SQL("l.revenue"),
            SQL("0"),
            SQL(
                "%s AND l.closed_at <= c.first_at + INTERVAL '180 days'",
                self._won(),
            ),
        )

    def _q_sales_cycle_days(self):
        return self._lead_rows(
            SQL("l.closed_month"),
            SQL("EXTRACT(EPOCH FROM (l.date_closed - l.create_date)) / 86400.0"),
            SQL("1"),
            self._won(),
        )

    def _q_open_deals(self):
        # Open at the end of M: created before the end of M and not closed
        # before it. Archived leads that were never lost or won are left out.
        # A run of recent months starts the series at its first month.
        start = SQL("l.create_month")
        if self.month_from:
            start = SQL(
                "CASE WHEN l.create_month IS NOT NULL "
                "THEN GREATEST(l.create_month, %s::date) END",
                self.month_from,
            )
        return SQL(
            """
            SELECT m::date AS month, l.company_id, %(dims)s,
                   1::numeric AS num, 0::numeric AS den,
                   'crm.lead' AS res_model, l.id AS res_id
              FROM kpi_tmp_lead l
             CROSS JOIN LATERAL generate_series(
                   %(start)s::timestamp,
                   COALESCE(l.closed_month - INTERVAL '1 month',
                            %(to)s::timestamp),
                   INTERVAL '1 month') m
             WHERE l.type = 'opportunity'
               AND (l.active OR l.won_status <> 'pending')
               -- open at the end of a month: closed in a later one
               AND (l.closed_month IS NULL OR l.closed_month > %(first)s)
               AND (l.closed_at IS NULL
                    OR l.closed_at >= m + INTERVAL '1 month')
            """,
            dims=_dims("l", LEAD_DIMS),
            start=start,
            first=self.month_from or "-infinity",
            to=self.month_to,
        )

    def _q_activities_per_lead(self):
        return self._lead_rows(
            SQL("l.closed_month"),
            SQL("COALESCE(msg.done, 0)"),
            SQL("1"),
            SQL("l.won_status IN ('won', 'lost') AND l.closed_month IS NOT NULL"),
        )

    def _q_renewal_rate(self):
        return self._lead_rows(
            SQL("l.closed_month"),
            SQL("(l.won_status = 'won')::int"),
            SQL("1"),
            SQL(
                "l.won_status IN ('won', 'lost') AND l.closed_month IS NOT NULL "
                "AND l.deal_type = 'renewal'"
            ),
        )

    def _q_referrals(self):
        return self._lead_rows(
            SQL("l.create_month"), SQL("1"), SQL("0"), SQL("l.referral")
        )

    # Customer based ------------------------------------------------------
    def _customer_rows(self, num, den, where, cube):
        """Rows of the activity basis (which carries the customer's
        dimensions): each customer month satisfying ``where`` counts ``num``
        over ``den``. A run reads the same sums from the customer cube
        instead (see ``_build_customer_cube``): ``cube`` gives them as
        (numerator, denominator) over its columns."""
        if self.mode == "collect":
            self._customer_cube = True
            return SQL("SELECT NULL")
        if self.mode == "cube" and self._customer_cube:
            query = SQL(
                """
                SELECT k.month, k.company_id, %(dims)s,
                       (%(num)s)::numeric AS num, (%(den)s)::numeric AS den,
                       NULL::varchar AS res_model, NULL::int AS res_id
                  FROM kpi_tmp_customer_cube k
                """,
                dims=_dims("k"),
                num=cube[0],
                den=cube[1],
            )
            self._cube_reads.add(self._sql_key(query))
            return query
        return self._measure_rows("basis", SQL("b.month"), num, den, where)

    def _q_retention_rate(self):
        return self._customer_rows(
            SQL("(NOT b.churned)::int"),
            SQL("1"),
            SQL("b.active_start"),
            cube=(SQL("k.active_start - k.churned"), SQL("k.active_start")),
        )

    def _q_churn_rate(self):
        return self._customer_rows(
            SQL("b.churned::int"),
            SQL("1"),
            SQL("b.active_start"),
            cube=(SQL("k.churned"), SQL("k.active_start")),
        )

    def _q_new_customers(self):
        return self._customer_rows(
            SQL("1"), SQL("0"), SQL("b.is_new"), cube=(SQL("k.is_new"), SQL("0"))
        )

    def _q_repeat_customers(self):
        return self._customer_rows(
            SQL("(b.deals_to_date >= 2)::int"),
            SQL("1"),
            SQL("b.active_end"),
            cube=(SQL("k.repeat"), SQL("k.active_end")),
        )

    def _q_clv(self):
        rows = self._customer_rows(
            SQL("b.revenue_12m"),
            SQL("1"),
            SQL("b.active_end"),
            cube=(SQL("k.revenue_12m"), SQL("k.active_end")),
        )
        query = SQL(
            """
            SELECT q.month, q.company_id, %(dims)s,
                   q.num * ls.lifespan * co.margin / 100.0 AS num, q.den,
                   q.res_model, q.res_id
              FROM (%(rows)s) q
              JOIN kpi_tmp_lifespan ls
                ON ls.company_id = q.company_id AND ls.month = q.month
              JOIN kpi_tmp_company co ON co.id = q.company_id
            """,
            dims=_dims("q"),
            rows=rows,
        )
        if self.is_cube_read(rows):
            # one lifespan per company and month: still one row per key
            self._cube_reads.add(self._sql_key(query))
        return query

    def _q_cross_sell_rate(self):
        return self._customer_rows(
            SQL("b.has_upsell::int"),
            SQL("b.active_end::int"),
            SQL("b.active_end OR b.has_upsell"),
            cube=(SQL("k.upsell"), SQL("k.active_end")),
        )

    def _q_data_completeness(self):
        return self._customer_rows(
            SQL("b.complete::int"),
            SQL("1"),
            SQL("b.active_end"),
            cube=(SQL("k.complete_end"), SQL("k.active_end")),
        )

    def _q_lifecycle(self, stage):
        """Customers in ``stage`` at the end of the month, from the history of
        lifecycle events (kept since the addon was installed). A run counts
        every stage in one pass, into the lifecycle cube."""
        if self.mode == "collect":
            self._lifecycle_cube = True
            return SQL("SELECT NULL")
        if self.mode == "cube" and self._lifecycle_cube:
            query = SQL(
                """
                SELECT k.month, k.company_id, %(dims)s, k.partners AS num,
                       0::numeric AS den, NULL::varchar AS res_model,
                       NULL::int AS res_id
                  FROM kpi_tmp_lifecycle_cube k
                 WHERE k.stage = %(stage)s
                """,
                dims=_dims("k"),
                stage=stage,
            )
            self._cube_reads.add(self._sql_key(query))
            return query
        return self._stage_rows(
            SQL("kpi_tmp_stage_spell"), SQL("e.to_stage = %s", stage)
        )

    def _stage_rows(self, spells, where):
        """One row per partner and month end it spent in a lifecycle stage,
        of the stage ``spells`` (a table or sub-query) satisfying ``where``."""
        return SQL(
            """
            SELECT m::date AS month, e.company_id, %(dims)s,
                   1::numeric AS num, 0::numeric AS den,
                   'res.partner' AS res_model, e.partner_id AS res_id,
                   e.to_stage AS stage
              FROM %(spells)s e
             CROSS JOIN LATERAL generate_series(
                   GREATEST(date_trunc('month', e.date), %(first)s::timestamp),
                   LEAST(date_trunc('month', COALESCE(e.next_date, %(to)s::date)),
                         %(to)s::timestamp),
                   INTERVAL '1 month') m
             WHERE %(where)s
               AND (e.next_date IS NULL OR e.next_date >= m + INTERVAL '1 month')
            """,
            dims=_dims("e", ("team_id", "user_id", "segment_id")),
            spells=spells,
            first=self.month_from or "-infinity",
            to=self.month_to,
            where=where,
        )

    def _build_lifecycle_cube(self):
        """Partners per month end, company, dimensions and lifecycle stage:
        every stage's KPI in one pass over the stage spells. The spells are
        counted per combination of company, dimensions, stage and months
        first (a few thousand groups for two hundred thousand partners), and
        only those groups are spread over their months: the same sums as
        ``_stage_rows``, whose rows are one per partner and month."""
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_lifecycle_cube AS
                WITH spans AS (
                    -- a spell counts at the end of the months from the one
                    -- it starts in to the last one its next event (if any)
                    -- does not start in
                    SELECT e.company_id, %(dims)s, e.to_stage AS stage,
                           GREATEST(date_trunc('month', e.date),
                                    %(first)s::timestamp) AS first_month,
                           LEAST(COALESCE(date_trunc('month', e.next_date)
                                          - INTERVAL '1 month', %(to)s::timestamp),
                                 %(to)s::timestamp) AS last_month
                      FROM (%(spells)s) e
                ), grouped AS (
                    SELECT company_id, %(keys)s, stage, first_month, last_month,
                           COUNT(*) AS partners
                      FROM spans
                     WHERE first_month <= last_month
                     GROUP BY company_id, %(keys)s, stage, first_month, last_month
                )
                SELECT m::date AS month, g.company_id, %(group_dims)s, g.stage,
                       SUM(g.partners)::numeric AS partners
                  FROM grouped g
                 CROSS JOIN LATERAL generate_series(
                       g.first_month, g.last_month, INTERVAL '1 month') m
                 GROUP BY 1, g.company_id, %(group_keys)s, g.stage
                """,
                dims=_dims("e", ("team_id", "user_id", "segment_id")),
                keys=SQL(", ").join(SQL.identifier(dim) for dim in DIMS),
                group_dims=_dims("g"),
                group_keys=SQL(", ").join(SQL.identifier("g", dim) for dim in DIMS),
                spells=self._stage_spells(),
                first=self.month_from or "-infinity",
                to=self.month_to,
            )
        )
        self.cr.execute("ANALYZE kpi_tmp_lifecycle_cube")

    # Feedback ------------------------------------------------------------
    def _feedback_rows(self, kind, num):
        segment, segment_join = self._segment_of(SQL("fb.commercial_partner_id"))
        return SQL(
            """
            SELECT date_trunc('month', f.date)::date AS month, co.id AS company_id,
                   %(dims)s, (%(num)s)::numeric AS num, 1::numeric AS den,
                   'crm.kpi.feedback' AS res_model, f.id AS res_id
              FROM (SELECT fb.*, %(segment)s AS segment_id
                      FROM crm_kpi_feedback fb %(segment_join)s) f
              JOIN kpi_tmp_company co ON co.id = f.company_id
             WHERE f.kind = %(kind)s AND %(since)s
            """,
            since=self._since(SQL("f.date")),
            dims=_dims("f", FEEDBACK_DIMS),
            segment=segment,
            segment_join=segment_join,
            num=num,
            kind=kind,
        )

    def _q_nps(self):
        return self._feedback_rows(
            "nps",
            SQL("CASE WHEN f.score >= 9 THEN 1 WHEN f.score <= 6 THEN -1 ELSE 0 END"),
        )

    def _q_ces(self):
        return self._feedback_rows("ces", SQL("f.score"))

    # Costs ---------------------------------------------------------------
    def _cost_rows(self, categories, num, den):
        return SQL(
            """
            SELECT date_trunc('month', k.date)::date AS month, k.company_id,
                   %(dims)s, (%(num)s)::numeric AS num, (%(den)s)::numeric AS den,
                   'crm.kpi.cost' AS res_model, k.id AS res_id
              FROM crm_kpi_cost k
              JOIN kpi_tmp_company co ON co.id = k.company_id
             WHERE k.category IN %(categories)s AND %(since)s
            """,
            since=self._since(SQL("k.date")),
            dims=_dims("k", COST_DIMS),
            num=num,
            den=den,
            categories=tuple(categories),
        )

    def _q_cac(self):
        return SQL(
            "%s UNION ALL %s",
            self._cost_rows(("marketing", "sales"), SQL("k.amount"), SQL("0")),
            self._customer_rows(
                SQL("0"), SQL("1"), SQL("b.is_new"), cube=(SQL("0"), SQL("k.is_new"))
            ),
        )

    def _q_retention_cost(self):
        return SQL(
            "%s UNION ALL %s",
            self._cost_rows(("retention",), SQL("k.amount"), SQL("0")),
            self._customer_rows(
                SQL("0"),
                SQL("1"),
                SQL("b.active_start"),
                cube=(SQL("0"), SQL("k.active_start")),
            ),
        )

    def _q_marketing_roi(self):
        return SQL(
            "%s UNION ALL %s",
            self._lead_rows(
                SQL("l.closed_month"),
                SQL("l.revenue"),
                SQL("0"),
                SQL("%s AND l.campaign_id IS NOT NULL", self._won()),
            ),
            self._cost_rows(("marketing",), SQL("-k.amount"), SQL("k.amount")),
        )

    def _q_traffic_to_lead(self):
        return SQL(
            "%s UNION ALL %s",
            self._lead_rows(SQL("l.create_month"), SQL("1"), SQL("0"), SQL("TRUE")),
            self._cost_rows(("visitors",), SQL("0"), SQL("k.amount")),
        )

    # Adoption ------------------------------------------------------------
    def _q_logins_per_user(self):
        return SQL(
            """
            SELECT g.month, g.company_id, %(dims)s,
                   g.logins AS num, 1::numeric AS den,
                   'res.users' AS res_model, g.user_id AS res_id
              FROM (SELECT date_trunc('month', lg.day)::date AS month,
                           lg.company_id, lg.user_id,
                           SUM(lg.count)::numeric AS logins
                      FROM crm_kpi_user_login lg
                      JOIN kpi_tmp_company co ON co.id = lg.company_id
                      JOIN res_users u ON u.id = lg.user_id AND NOT u.share
                     WHERE %(since)s
                     GROUP BY 1, 2, 3) g
            UNION ALL
            SELECT date_trunc('month', lg.day)::date, lg.company_id,
                   %(no_dims)s, lg.count::numeric, lg.user_count::numeric,
                   NULL::varchar, NULL::int
              FROM crm_kpi_user_login lg
              JOIN kpi_tmp_company co ON co.id = lg.company_id
             WHERE lg.user_id IS NULL AND %(since)s
            """,
            dims=_dims("g", ("user_id",)),
            no_dims=_dims("lg", ()),
            since=self._since(SQL("lg.day")),
        )

    def _q_records_created(self):
        company = SQL("COALESCE(p.company_id, u.company_id, %s)", self.main_company_id)
        partner_created = self._local(SQL("p.create_date"), self._timezone_of(company))
        segment, segment_join = self._segment_of(SQL("p.commercial_partner_id"))
        partners = SQL(
            """
            SELECT date_trunc('month', %(created)s)::date AS month,
                   %(company)s AS company_id, pu.sale_team_id AS team_id,
                   p.user_id,
                   %(segment)s AS segment_id, NULL::int AS campaign_id,
                   NULL::int AS source_id, NULL::int AS medium_id,
                   1::numeric AS num, 0::numeric AS den,
                   'res.partner' AS res_model, p.id AS res_id
              FROM res_partner p
              LEFT JOIN res_users u ON u.id = p.create_uid
              LEFT JOIN res_users pu ON pu.id = p.user_id
              %(segment_join)s
             WHERE %(company)s = ANY(%(companies)s)
               AND p.create_date >= %(since)s
               AND NOT EXISTS (SELECT 1 FROM res_users ru
                                WHERE ru.partner_id = p.id)
               AND NOT EXISTS (SELECT 1 FROM res_company rc
                                WHERE rc.partner_id = p.id)
            """,
            created=partner_created,
            segment=segment,
            segment_join=segment_join,
            company=company,
            companies=list(self._timezones),
            # local months start up to a day before the UTC ones
            since=self.month_from - timedelta(days=1)
            if self.month_from
            else datetime.min,
        )
        if self.mode == "cube":
            # a run sums the partners per month, company and dimensions
            # before they meet the leads (hundreds of thousands of records)
            partners = SQL(
                """
                SELECT p.month, p.company_id, %(dims)s,
                       SUM(p.num) AS num, SUM(p.den) AS den,
                       NULL::varchar AS res_model, NULL::int AS res_id
                  FROM (%(partners)s) p
                 GROUP BY %(keys)s
                """,
                dims=_dims("p"),
                keys=GROUP_KEYS,
                partners=partners,
            )
        return SQL(
            "%s UNION ALL %s",
            self._lead_rows(SQL("l.create_month"), SQL("1"), SQL("0"), SQL("TRUE")),
            partners,
        )
