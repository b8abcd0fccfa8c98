"""The customer KPIs' source: customer months.

Per record (the drill-down), one row per customer and month in which the
customer is active at the start or the end of the month or wins a deal
(``kpi_tmp_basis``). For a run, the same sums per month, company and
dimensions straight from the spells and won deals (``kpi_tmp_customer_cube``),
without a row per customer and month. Both have the columns of
``CUSTOMER_MEASURES``, so one expression reads either.
"""

from odoo.tools import SQL

from .sql import BASIS_WORK_MEM, dims, planner

# The measure columns of customer months, per row and summed in the cube:
# active at the start and at the end of the month, active at the end with
# complete contact data, a repeat customer at the end (two purchases or
# more); of those active at its end, the revenue, profit, purchases and
# distinct products of the 12 months ending with the month; active at the
# end in a company whose revenue source knows products; a new customer, an
# upsell or cross-sell, a churn.
CUSTOMER_MEASURES = (
    "active_start",
    "active_end",
    "complete_end",
    "repeat",
    "revenue_12m",
    "profit_12m",
    "purchases_12m",
    "products_12m",
    "product_end",
    "is_new",
    "upsell",
    "churned",
)


class CustomerMonths:
    """Part of ``Run``: the customer-month basis and cube."""

    def _deal_months(self):
        """Purchases (and credit notes) per customer and month from the
        eleven months before ``month_from`` on (what the 12-month sums of
        its months need): number of purchases, revenue, profit, whether the
        customer's first purchase or an upsell is among them. Revenue stays
        numeric: sums of floats depend on the order of their terms, and a
        rerun must give the same customer lifetime values to the last
        digit."""
        return SQL(
            """
            SELECT company_id, customer_id, closed_month AS month,
                   (COUNT(*) FILTER (WHERE purchase))::int AS n,
                   SUM(revenue) AS revenue, SUM(profit) AS profit,
                   bool_or(rn = 1) AS has_first,
                   bool_or(deal_type IN ('upsell', 'cross_sell')) AS has_upsell
              FROM kpi_tmp_won
             WHERE %(window_from)s::date IS NULL
                OR closed_month >= %(window_from)s
             GROUP BY company_id, customer_id, closed_month
            """,
            window_from=self.basis_from,
        )

    def _prepare_products(self):
        """The spans of months in which a product counts among the products a
        customer bought in the 12 months ending with the month: a product
        bought in month p counts in the months p to p + 11; purchases less
        than a year apart make one span (``kpi_tmp_product_span``: company,
        customer, first and last month of the span). From the months the
        12-month windows of the computed months reach, of the companies
        whose revenue source knows products."""
        parts = [
            SQL("(%s)", source.products(self, company_ids, self.basis_from))
            for source, company_ids in self._revenue_sources().items()
            if source.products is not None
        ]
        rows = (
            SQL(" UNION ").join(parts)
            if parts
            else SQL(
                "SELECT NULL::int AS company_id, NULL::int AS customer_id, "
                "NULL::date AS month, NULL::int AS product_id WHERE FALSE"
            )
        )
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_product_span AS
                WITH bought AS (
                    SELECT DISTINCT company_id, customer_id, product_id, month
                      FROM (%(rows)s) r
                ), marked AS (
                    SELECT *, CASE WHEN month <= LAG(month) OVER w
                                                 + INTERVAL '12 months'
                                   THEN 0 ELSE 1 END AS new_span
                      FROM bought
                    WINDOW w AS (PARTITION BY company_id, customer_id, product_id
                                 ORDER BY month)
                ), numbered AS (
                    SELECT *, SUM(new_span) OVER (
                               PARTITION BY company_id, customer_id, product_id
                               ORDER BY month) AS span
                      FROM marked
                )
                SELECT company_id, customer_id, MIN(month) AS lo,
                       (MAX(month) + INTERVAL '11 months')::date AS hi
                  FROM numbered
                 GROUP BY company_id, customer_id, product_id, span
                """,
                rows=rows,
            )
        )
        self.cr.execute(
            "CREATE INDEX ON kpi_tmp_product_span (company_id, customer_id); "
            "ANALYZE kpi_tmp_product_span"
        )

    def _products_of_month(self):
        """The distinct products of the 12 months ending with the month of
        the customer month ``w`` (0 when no company of the run knows
        products)."""
        if not any(
            self.catalogue.revenue_sources[code].products is not None
            for code in self._revenue_source_of.values()
        ):
            return SQL("0")
        return SQL(
            """(SELECT COUNT(*) FROM kpi_tmp_product_span ps
                 WHERE ps.company_id = w.company_id
                   AND ps.customer_id = w.customer_id
                   AND w.month BETWEEN ps.lo AND ps.hi)"""
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
        with planner(self.cr, work_mem=BASIS_WORK_MEM):
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
                         WHERE closed_month < %(from)s AND purchase
                         GROUP BY company_id, customer_id
                    ), months AS (
                        -- the months of purchases before the first month,
                        -- and those of credit notes alone outside every
                        -- spell's months (see state), are helper rows of the
                        -- 12-month windows
                        SELECT * FROM state
                         UNION ALL
                        SELECT d.company_id, d.customer_id, d.month, FALSE, FALSE,
                               TRUE
                          FROM deals d
                         WHERE d.month < %(from)s
                            OR (d.n = 0 AND NOT EXISTS (
                                SELECT 1 FROM kpi_tmp_spell s
                                 WHERE s.company_id = d.company_id
                                   AND s.customer_id = d.customer_id
                                   AND d.month >= date_trunc('month', s.start_at)
                                       + CASE WHEN date_trunc('month', s.prev_end)
                                                   = date_trunc('month', s.start_at)
                                              THEN INTERVAL '1 month'
                                              ELSE INTERVAL '0' END
                                   AND d.month <= date_trunc('month', s.end_at)))
                    ), windowed AS (
                        SELECT r.*, d.n, d.has_first, d.has_upsell,
                               SUM(CASE WHEN r.helper THEN 0 ELSE COALESCE(d.n, 0) END)
                                   OVER w_all AS run_deals,
                               SUM(COALESCE(d.revenue, 0)) OVER w_12m AS revenue_12m,
                               SUM(COALESCE(d.profit, 0)) OVER w_12m AS profit_12m,
                               SUM(COALESCE(d.n, 0)) OVER w_12m AS purchases_12m
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
                           w.revenue_12m, w.profit_12m, w.purchases_12m,
                           %(products)s AS products_12m,
                           co.has_products
                      FROM windowed w
                      JOIN kpi_tmp_customer c USING (company_id, customer_id)
                      JOIN kpi_tmp_company co ON co.id = w.company_id
                      LEFT JOIN before bf USING (company_id, customer_id)
                     WHERE NOT w.helper
                    """,
                    to=self.month_to,
                    deals=self._deal_months(),
                    products=self._products_of_month(),
                    **{"from": self.month_from},
                )
            )
        self.cr.execute("ANALYZE kpi_tmp_basis")

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
        with planner(self.cr, enable_sort="off"):
            self.cr.execute(
                SQL(
                    """
                    CREATE TEMP TABLE kpi_tmp_customer_cube AS
                    WITH customers AS (
                        SELECT c.company_id, c.customer_id, c.dim_group,
                               c.complete,
                               date_trunc('month', c.first_at)::date
                                   AS first_deal_month,
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
                        SELECT c.dim_group, w.revenue, w.profit,
                               w.purchase::int AS purchases, 0 AS products,
                               GREATEST(w.closed_month, c.end_from) AS lo,
                               LEAST((w.closed_month + INTERVAL '11 months')::date,
                                     (c.last_month - INTERVAL '1 month')::date) AS hi
                          FROM kpi_tmp_won w
                          JOIN covered c USING (company_id, customer_id)
                         WHERE %(revenue_window)s
                         UNION ALL
                        -- a product counts in the months its spans of
                        -- 12-month windows cover (see _prepare_products)
                        SELECT c.dim_group, 0, 0, 0, 1,
                               GREATEST(ps.lo, c.end_from),
                               LEAST(ps.hi, (c.last_month - INTERVAL '1 month')::date)
                          FROM kpi_tmp_product_span ps
                          JOIN covered c USING (company_id, customer_id)
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
                               0::numeric AS d_revenue, 0::numeric AS d_profit,
                               0 AS d_purchases, 0 AS d_products, 0 AS is_new,
                               0 AS upsell, 0 AS churned
                          FROM covered
                         UNION ALL
                        SELECT dim_group, (last_month + INTERVAL '1 month')::date, -1,
                               0, 0, 0, 0, 0, 0, 0, 0, 0, 0
                          FROM covered
                         UNION ALL
                        SELECT dim_group, end_from, 0, 1, complete::int,
                               (repeats AND repeat_from = end_from)::int,
                               0, 0, 0, 0, 0, 0, 0
                          FROM covered
                         UNION ALL
                        SELECT dim_group, last_month, 0, -1, -complete::int,
                               -repeats::int, 0, 0, 0, 0, 0, 0, (NOT continued)::int
                          FROM covered
                         UNION ALL
                        SELECT dim_group, repeat_from, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0
                          FROM covered
                         WHERE repeats AND repeat_from <> end_from
                         UNION ALL
                        SELECT dim_group, lo, 0, 0, 0, 0, revenue, profit, purchases,
                               products, 0, 0, 0
                          FROM spans WHERE lo <= hi
                         UNION ALL
                        SELECT dim_group, (hi + INTERVAL '1 month')::date, 0, 0, 0, 0,
                               -revenue, -profit, -purchases, -products, 0, 0, 0
                          FROM spans WHERE lo <= hi
                         UNION ALL
                        SELECT dim_group, first_deal_month, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                               0, 0
                          FROM customers
                         WHERE %(new_in_run)s
                         UNION ALL
                        SELECT c.dim_group, u.month, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0
                          FROM upsells u
                          JOIN customers c USING (company_id, customer_id)
                    ), grouped AS (
                        -- changes of states before the first computed month
                        -- count from it, flows only in their month
                        SELECT GREATEST(month, %(from)s::date) AS month, dim_group,
                               SUM(d_start) AS d_start, SUM(d_end) AS d_end,
                               SUM(d_complete) AS d_complete, SUM(d_repeat) AS d_repeat,
                               SUM(d_revenue) AS d_revenue, SUM(d_profit) AS d_profit,
                               SUM(d_purchases) AS d_purchases,
                               SUM(d_products) AS d_products,
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
                        SELECT m::date, g.dim_group, 0, 0, 0, 0, 0::numeric,
                               0::numeric, 0, 0, 0, 0, 0
                          FROM (SELECT dim_group, MIN(month) AS first
                                  FROM grouped GROUP BY dim_group) g
                         CROSS JOIN LATERAL generate_series(
                               g.first::timestamp, %(to)s::timestamp,
                               INTERVAL '1 month') m
                    ), dense AS (
                        SELECT month, dim_group,
                               SUM(d_start) AS d_start, SUM(d_end) AS d_end,
                               SUM(d_complete) AS d_complete, SUM(d_repeat) AS d_repeat,
                               SUM(d_revenue) AS d_revenue, SUM(d_profit) AS d_profit,
                               SUM(d_purchases) AS d_purchases,
                               SUM(d_products) AS d_products, SUM(is_new) AS is_new,
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
                               SUM(d_profit) OVER w AS profit_12m,
                               SUM(d_purchases) OVER w AS purchases_12m,
                               SUM(d_products) OVER w AS products_12m,
                               is_new, upsell, churned
                          FROM dense
                        WINDOW w AS (PARTITION BY dim_group ORDER BY month
                                     ROWS UNBOUNDED PRECEDING)
                    )
                    SELECT s.month, g.company_id, %(g_dims)s, s.active_start,
                           s.active_end, s.complete_end, s.repeat, s.revenue_12m,
                           s.profit_12m, s.purchases_12m, s.products_12m,
                           CASE WHEN co.has_products THEN s.active_end ELSE 0 END
                               AS product_end,
                           s.is_new, s.upsell, s.churned
                      FROM summed s
                      JOIN (SELECT DISTINCT ON (dim_group) * FROM kpi_tmp_customer) g
                        USING (dim_group)
                      JOIN kpi_tmp_company co ON co.id = g.company_id
                     WHERE s.active_start <> 0 OR s.active_end <> 0 OR s.is_new <> 0
                        OR s.upsell <> 0 OR s.churned <> 0
                    """,
                    g_dims=dims("g"),
                    in_run=self.since(SQL("month")),
                    ends_in_run=self.since(SQL("s.last_month")),
                    new_in_run=self.since(SQL("first_deal_month")),
                    upsell_in_run=self.since(SQL("closed_month")),
                    revenue_window=SQL(
                        "%s::date IS NULL OR w.closed_month >= %s",
                        self.basis_from,
                        self.basis_from,
                    ),
                    to=self.month_to,
                    **{"from": self.month_from},
                )
            )
        self.cr.execute("ANALYZE kpi_tmp_customer_cube")

    def customer_rows(self):
        """The customer source's rows: the customer months of the basis with
        the columns of the cube (``CUSTOMER_MEASURES``), as integers."""
        return SQL(
            """
            (SELECT b.month, b.company_id, b.customer_id, %(dims)s,
                    b.active_start::int AS active_start,
                    b.active_end::int AS active_end,
                    (b.active_end AND b.complete)::int AS complete_end,
                    (b.active_end AND b.deals_to_date >= 2)::int AS repeat,
                    CASE WHEN b.active_end THEN b.revenue_12m ELSE 0 END
                        AS revenue_12m,
                    CASE WHEN b.active_end THEN b.profit_12m ELSE 0 END
                        AS profit_12m,
                    CASE WHEN b.active_end THEN b.purchases_12m ELSE 0 END
                        AS purchases_12m,
                    CASE WHEN b.active_end THEN b.products_12m ELSE 0 END
                        AS products_12m,
                    (b.active_end AND b.has_products)::int AS product_end,
                    b.is_new::int AS is_new, b.has_upsell::int AS upsell,
                    b.churned::int AS churned
               FROM kpi_tmp_basis b) b
            """,
            dims=dims("b"),
        )

    def customer_cube(self):
        """The customer source's cube (see ``_build_customer_cube``)."""
        self._build_customer_cube()
        return "kpi_tmp_customer_cube"

    def lifetime_value(self, rows):
        """Rows of the 12-month profit of customers as their lifetime value:
        x the expected lifespan of their company and month (one per company
        and month: still one row per key)."""
        self.need("lifespan")
        return SQL(
            """
            SELECT q.month, q.company_id, %(dims)s,
                   q.num * ls.lifespan AS num, q.den, q.res_model, q.res_id
              FROM (%(rows)s) q
              JOIN kpi_tmp_lifespan ls
                ON ls.company_id = q.company_id AND ls.month = q.month
            """,
            dims=dims("q"),
            rows=rows,
        )
