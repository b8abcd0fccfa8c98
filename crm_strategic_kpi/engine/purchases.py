"""The customers' purchases in the order they were made: won deals, orders
or invoices, after each company's revenue source (``RevenueSource``), with
the kept history of earlier ones."""

from odoo.tools import SQL

from .declarations import PURCHASE_COLUMNS
from .history import WON_COLUMNS
from .rules import deal_revenue


class Purchases:
    """Part of ``Run``: ``kpi_tmp_won`` and the revenue of won deals."""

    def _revenue_sources(self):
        """{revenue source: [company ids]} of the run's companies."""
        grouped = {}
        for company_id, code in self._revenue_source_of.items():
            grouped.setdefault(self.catalogue.revenue_sources[code], []).append(
                company_id
            )
        return grouped

    def _purchase_rows(self, since):
        """The purchases of the run's companies from ``since`` on (None: all),
        each company's from its revenue source, shaped as
        ``PURCHASE_COLUMNS``."""
        parts = []
        for source, company_ids in self._revenue_sources().items():
            self.need(*source.needs)
            parts.append(
                SQL(
                    "SELECT %s FROM (%s) p",
                    SQL(", ").join(
                        SQL.identifier("p", column) for column in PURCHASE_COLUMNS
                    ),
                    source.purchases(self, company_ids, since),
                )
            )
        if not parts:
            return SQL(
                "SELECT %s WHERE FALSE",
                SQL(", ").join(
                    SQL("NULL::int AS %s", SQL.identifier(c)) for c in PURCHASE_COLUMNS
                ),
            )
        return SQL(" UNION ALL ").join(SQL("(%s)", part) for part in parts)

    def _prepare_won(self):
        """The customers' purchases in the order they were made (dated, then
        by id), numbered: won deals, orders or invoices, after each
        company's revenue source (see ``RevenueSource``). A purchase without
        a type is new business when it is its customer's first (``rn`` 1),
        else an upsell. Credit notes are rows without a number: they reduce
        revenue and profit, they are no purchase.

        A run that reads the kept history takes the purchases before its
        cutoff month from it and numbers the later ones after them: their
        number and predecessor continue those of the customer's kept
        purchases."""
        cutoff = self.history_cutoff
        if cutoff:
            kept = SQL(
                """
                SELECT h.company_id, h.customer_id, MAX(h.rn) AS n,
                       MAX(h.closed_at) FILTER (WHERE h.purchase) AS last_at
                  FROM crm_kpi_history_won h
                 WHERE h.company_id = ANY(%(companies)s)
                   AND (h.company_id, h.customer_id) IN (
                           SELECT company_id, customer_id FROM fresh)
                 GROUP BY h.company_id, h.customer_id
                """,
                companies=list(self._timezones),
            )
            history = SQL(
                "SELECT %s FROM crm_kpi_history_won WHERE company_id = ANY(%s) "
                "UNION ALL",
                SQL(", ").join(SQL.identifier(c) for c in WON_COLUMNS),
                list(self._timezones),
            )
        else:
            kept = SQL(
                "SELECT NULL::int AS company_id, NULL::int AS customer_id, "
                "NULL::bigint AS n, NULL::timestamp AS last_at WHERE FALSE"
            )
            history = SQL()
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_won AS
                WITH fresh AS (
                    SELECT p.*, date_trunc('month', p.closed_at)::date AS closed_month
                      FROM (%(purchases)s) p
                     WHERE p.customer_id IS NOT NULL AND p.closed_at IS NOT NULL
                ), kept AS (
                    %(kept)s
                ), numbered AS (
                    SELECT f.*,
                           CASE WHEN f.purchase
                                THEN COALESCE(k.n, 0) + ROW_NUMBER() OVER w
                           END AS rn,
                           CASE WHEN f.purchase
                                THEN COALESCE(LAG(f.closed_at) OVER w, k.last_at)
                           END AS prev_at
                      FROM fresh f
                      LEFT JOIN kept k USING (company_id, customer_id)
                    WINDOW w AS (PARTITION BY f.company_id, f.customer_id, f.purchase
                                 ORDER BY f.closed_at, f.id)
                )
                %(history)s
                SELECT id, res_model, company_id, customer_id, team_id, user_id,
                       closed_at, closed_month, revenue, profit, purchase,
                       CASE WHEN NOT purchase THEN 'refund'
                            ELSE COALESCE(deal_type,
                                          CASE WHEN rn = 1 THEN 'new'
                                               ELSE 'upsell' END)
                       END AS deal_type,
                       campaign_id, source_id, medium_id, rn, prev_at
                  FROM numbered
                """,
                purchases=self._purchase_rows(cutoff),
                kept=kept,
                history=history,
            )
        )
        self.cr.execute("ANALYZE kpi_tmp_won")

    def deal_purchases(self, company_ids, since):
        """The purchases of the revenue source "expected revenue of won
        deals": the won deals of the customers, valued at the margin
        setting."""
        return SQL(
            """
            SELECT l.id, 'crm.lead' AS res_model, l.company_id, l.customer_id,
                   l.team_id, l.user_id, l.campaign_id, l.source_id, l.medium_id,
                   l.closed_at, l.revenue, l.revenue * co.margin / 100 AS profit,
                   l.deal_type, TRUE AS purchase
              FROM kpi_tmp_lead l
              JOIN kpi_tmp_company co ON co.id = l.company_id
             WHERE l.won_status = 'won' AND l.company_id = ANY(%s)
               AND l.closed_at <= %s AND %s
            """,
            company_ids,
            self.local_now(SQL("co.tz")),
            SQL("l.closed_month >= %s", since) if since else SQL("TRUE"),
        )

    def local_now(self, tz):
        """The run's ``now`` as a local timestamp in ``tz`` (an expression)."""
        return self.local(SQL("%s::timestamp", self.now), tz)

    def _deal_revenue(self, company):
        """(joins, expression): the revenue of the won deal ``l`` of the
        company ``company`` (an expression), after its revenue source."""
        joins, cases = [], []
        for source, company_ids in self._revenue_sources().items():
            if source.deal_revenue is None:
                continue
            join, expression = source.deal_revenue(self, company_ids)
            joins.append(join)
            cases.append(
                SQL("WHEN %s = ANY(%s) THEN %s", company, company_ids, expression)
            )
        if not cases:
            return SQL(), deal_revenue("l")
        return SQL(" ").join(joins), SQL(
            "CASE %s ELSE %s END", SQL(" ").join(cases), deal_revenue("l")
        )
