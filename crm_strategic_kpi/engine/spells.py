"""Customer activity spells and the expected customer lifespan.

A purchase (a won deal, an order or an invoice, see ``RevenueSource``)
makes its customer active for the churn period; the spells are
the customer's periods of activity, the lifespan per company and month is
derived from how many of them end (churn)."""

from dateutil.relativedelta import relativedelta

from odoo.tools import SQL

from .history import SPELL_COLUMNS


class Spells:
    """Part of ``Run``: ``kpi_tmp_spell`` and ``kpi_tmp_lifespan``."""

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
        # a run that keeps no history counts the running month as of now
        # right away (see _spells_as_of_now)
        self._spells_current = self.history is not True or bool(self.history_cutoff)
        if self._spells_current:
            query = self._spells_as_of(query)
        self.cr.execute(SQL("CREATE TEMP TABLE kpi_tmp_spell AS %s", query))
        self.cr.execute("ANALYZE kpi_tmp_spell")

    def _spells_as_of(self, spells):
        """The spells (``SPELL_COLUMNS``) of the query ``spells`` as of now
        (see ``_spells_as_of_now``)."""
        beyond = SQL("%s::timestamp", self.month_to + relativedelta(months=2))
        now = self.local(
            SQL("%s::timestamp", self.now), self.timezone_of(SQL("s.company_id"))
        )
        return SQL(
            """
            SELECT s.company_id, s.customer_id, s.start_at,
                   CASE WHEN s.end_at > %(now)s
                        THEN GREATEST(s.end_at, %(beyond)s) ELSE s.end_at END
                       AS end_at,
                   s.next_start,
                   CASE WHEN s.next_end > %(now)s
                        THEN GREATEST(s.next_end, %(beyond)s) ELSE s.next_end END
                       AS next_end,
                   s.prev_end, s.first_month,
                   CASE WHEN s.end_at > %(now)s
                        THEN date_trunc('month', GREATEST(s.end_at, %(beyond)s)
                                                 - INTERVAL '1 microsecond')::date
                        ELSE s.last_month END AS last_month,
                   s.end_from,
                   s.continued AND s.end_at <= %(now)s AS continued
              FROM (%(spells)s) s
            """,
            now=now,
            beyond=beyond,
            spells=spells,
        )

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
                 WHERE w.purchase
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

    def _spells_as_of_now(self):
        """The running month counted as of now: a spell that ends after now
        (its customer's churn period runs beyond today) runs on past the
        computed months. The running month's end-of-month states (active,
        repeat, the 12-month revenue of active customers) are then those of
        today, and a customer whose churn date is later this month has not
        churned. Earlier months are unchanged: they ended before now. The
        kept history holds the spells as they are (see ``_keep_history``)."""
        if self._spells_current:
            return
        # the run kept its history from the spells as they are: they are
        # made current now, through the same query
        self.cr.execute("ALTER TABLE kpi_tmp_spell RENAME TO kpi_tmp_spell_kept")
        self.cr.execute(
            SQL(
                "CREATE TEMP TABLE kpi_tmp_spell AS %s",
                self._spells_as_of(SQL("SELECT * FROM kpi_tmp_spell_kept")),
            )
        )
        self.cr.execute("DROP TABLE kpi_tmp_spell_kept")
        self.cr.execute("ANALYZE kpi_tmp_spell")
        self._spells_current = True
