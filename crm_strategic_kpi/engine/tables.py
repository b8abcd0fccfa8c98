"""The source tables of a run: its companies, their leads with local dates,
the done activities of closed deals and the customers with their dimensions
(the purchases in order: ``purchases``).

Times are compared as local timestamps in the company's timezone, so a deal
won at 23:30 UTC on 31 January belongs to February in Europe/Berlin.
"""

import calendar
from datetime import timedelta

import pytz
from dateutil.relativedelta import relativedelta

from odoo.tools import SQL

from .rules import DEFAULT_REVENUE_SOURCE, month_start
from .sql import DIMS, planner


class SourceTables:
    """Part of ``Run``: the temporary tables of the CRM's records."""

    def _prepare_companies(self):
        """The run's companies with their timezone, settings and running
        month: the month of now in their timezone, and the share of it that
        has passed (its days up to today, today included)."""
        self._timezones = {
            company.id: company._get_kpi_timezone() for company in self.companies
        }
        # a source whose bridge is gone counts as the default one
        self._revenue_source_of = {
            company.id: company.kpi_revenue_source
            if company.kpi_revenue_source in self.catalogue.revenue_sources
            else DEFAULT_REVENUE_SOURCE
            for company in self.companies
        }
        rows = []
        for company in self.companies:
            tz = self._timezones[company.id]
            today = pytz.utc.localize(self.now).astimezone(pytz.timezone(tz)).date()
            source = self.catalogue.revenue_sources[self._revenue_source_of[company.id]]
            rows.append(
                SQL(
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    company.id,
                    tz,
                    company.kpi_churn_days,
                    company.kpi_clv_margin,
                    company.currency_id.id,
                    month_start(today),
                    today.day / calendar.monthrange(today.year, today.month)[1],
                    source.code,
                    source.products is not None,
                )
            )
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_company (
                    id int PRIMARY KEY, tz text, churn_days int,
                    margin numeric, currency_id int, running_month date,
                    running_share numeric, revenue_source text,
                    has_products boolean)
                """
            )
        )
        if rows:
            self.cr.execute(
                SQL("INSERT INTO kpi_tmp_company VALUES %s", SQL(", ").join(rows))
            )
        self.cr.execute("ANALYZE kpi_tmp_company")

    def local(self, column, tz=None):
        """A UTC timestamp column as the local timestamp in ``tz`` (default:
        the timezone of the row's company ``co``)."""
        return SQL("timezone(%s, timezone('UTC', %s))", tz or SQL("co.tz"), column)

    def local_time(self, column, company):
        """The UTC timestamp ``column`` as a local timestamp in the timezone
        of the company ``company`` (a column of the same row): what a
        bridge's source uses to date its records."""
        return self.local(column, self.timezone_of(company))

    def in_companies(self, company):
        """The company ``company`` (a column) is one of the run's."""
        return SQL("%s = ANY(%s)", company, list(self._timezones))

    def segment_of(self, partner_id):
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

    def timezone_of(self, company):
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

    def since(self, column):
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
        tz = self.timezone_of(company)
        created = self.local(SQL("l.create_date"), tz)
        closed = self.local(SQL("l.date_closed"), tz)
        segment, segment_join = self.segment_of(SQL("p.commercial_partner_id"))
        if self.recent:
            # the won deals of customers' histories need no segment
            segment = SQL("CASE WHEN %s THEN %s END", self._leads_in_run(), segment)
        revenue_joins, revenue = self._deal_revenue(company)
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
                      %(revenue_joins)s
                     WHERE %(company)s = ANY(%(companies)s)
                       AND %(relevant)s) b
                """,
                segment=segment,
                segment_join=segment_join,
                company=company,
                companies=list(self._timezones),
                created=created,
                closed=closed,
                revenue=revenue,
                revenue_joins=revenue_joins,
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
        (a day earlier: local months start before UTC ones). A run for the
        salespeople ``users`` needs only theirs (see ``_leads_of_users``)."""
        if self.users is not None and self.month_from:
            return self._leads_of_users()
        return self._relevant_leads_in_months()

    def _user_is(self, column):
        """``column`` (a salesperson) is one of ``users`` (None: nobody)."""
        ids = [user for user in self.users if user]
        conditions = [SQL("%s = ANY(%s)", column, ids)] if ids else []
        if None in self.users:
            conditions.append(SQL("%s IS NULL", column))
        return SQL("(%s)", SQL(" OR ").join(conditions) if conditions else SQL("FALSE"))

    def _leads_of_users(self):
        """The leads of the computed months (see ``_leads_in_run``, created
        before the end of the last one) of the salespeople ``users``, and
        the won deals until the end of the last month of the customers they
        stand for in those months: the customers of these leads, and those
        whose salesperson they are and who are active in the months (a deal
        within the longest churn period before the first month). The rows of
        the lead and customer sources that carry one of ``users`` are then
        exactly those of a run over all leads (a customer's history up to
        the months is complete: its first deal, numbers and spells; later
        deals change nothing in them); the others are left out. The contacts
        of those customers are looked up first."""
        churn_days = max(self.companies.mapped("kpi_churn_days") or [0])
        # local months end up to a day after the UTC ones
        until = self.month_to + relativedelta(months=1, days=1)
        in_run = SQL("(%s AND l.create_date < %s)", self._leads_in_run(), until)
        self.cr.execute(
            SQL(
                """
                SELECT COALESCE(array_agg(DISTINCT c.id), '{}') FROM (
                       SELECT lp.commercial_partner_id AS id
                         FROM crm_lead l JOIN res_partner lp ON lp.id = l.partner_id
                        WHERE %(lead_user)s AND %(in_run)s
                        UNION ALL
                       SELECT cp.id FROM res_partner cp
                        WHERE cp.id = cp.commercial_partner_id AND %(customer_user)s
                          AND EXISTS (
                              SELECT 1 FROM res_partner wp
                                JOIN crm_lead w ON w.partner_id = wp.id
                               WHERE wp.commercial_partner_id = cp.id
                                 AND w.won_status = 'won'
                                 AND w.date_closed >= %(active_since)s)) c
                """,
                lead_user=self._user_is(SQL("l.user_id")),
                in_run=in_run,
                customer_user=self._user_is(SQL("cp.user_id")),
                # local months start up to a day before the UTC ones
                active_since=self.month_from - timedelta(days=churn_days + 2),
            )
        )
        customers = self.cr.fetchone()[0]
        self.cr.execute(
            """SELECT COALESCE(array_agg(id), '{}') FROM res_partner
                WHERE commercial_partner_id = ANY(%s)""",
            (customers,),
        )
        partners = self.cr.fetchone()[0]
        return SQL(
            """((%s AND %s) OR (l.won_status = 'won' AND l.date_closed < %s
                                AND l.partner_id = ANY(%s)))""",
            self._user_is(SQL("l.user_id")),
            in_run,
            until,
            partners,
        )

    def _relevant_leads_in_months(self):
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
        with planner(self.cr, enable_mergejoin="off"):
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
        self.cr.execute(
            "CREATE UNIQUE INDEX ON kpi_tmp_customer (company_id, customer_id); "
            "ANALYZE kpi_tmp_customer"
        )
