"""The lifecycle KPIs' source: partners per lifecycle stage at month ends,
from the history of lifecycle events (kept since the addon was installed).
"""

from odoo.tools import SQL

from .sql import DIMS, PARTNER_DIMS, dims

# the lifecycle stages in their order, with their labels
LIFECYCLE_STAGES = [
    ("prospect", "Prospect"),
    ("lead", "Lead"),
    ("opportunity", "Opportunity"),
    ("new_customer", "New customer"),
    ("active", "Active customer"),
    ("at_risk", "At risk"),
    ("churned", "Churned"),
    ("reactivated", "Reactivated"),
    ("advocate", "Advocate"),
]


class LifecycleStages:
    """Part of ``Run``: the stage spells and the lifecycle cube."""

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
            self.since(SQL("ev.next_date")),
        )

    def lifecycle_rows(self):
        """The lifecycle source's rows: one per partner and month end it spent
        in a lifecycle stage (``stage``), within the run's months."""
        return SQL(
            """
            (SELECT m::date AS month, e.company_id, %(dims)s,
                    e.partner_id, e.to_stage AS stage, 1::numeric AS partners
               FROM kpi_tmp_stage_spell e
              CROSS JOIN LATERAL generate_series(
                    GREATEST(date_trunc('month', e.date), %(first)s::timestamp),
                    LEAST(date_trunc('month', COALESCE(e.next_date, %(to)s::date)),
                          %(to)s::timestamp),
                    INTERVAL '1 month') m
              WHERE e.next_date IS NULL OR e.next_date >= m + INTERVAL '1 month') s
            """,
            dims=dims("e", PARTNER_DIMS),
            first=self.month_from or "-infinity",
            to=self.month_to,
        )

    def lifecycle_cube(self):
        """The lifecycle source's cube (see ``_build_lifecycle_cube``)."""
        self._build_lifecycle_cube()
        return "kpi_tmp_lifecycle_cube"

    def _build_lifecycle_cube(self):
        """Partners per month end, company, dimensions and lifecycle stage:
        every stage's KPI in one pass over the stage spells. The spells are
        counted per combination of company, dimensions, stage and months
        first (a few thousand groups for two hundred thousand partners), and
        only those groups are spread over their months: the same sums as
        ``lifecycle_rows``, whose rows are one per partner and month."""
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
                dims=dims("e", PARTNER_DIMS),
                keys=SQL(", ").join(SQL.identifier(dim) for dim in DIMS),
                group_dims=dims("g"),
                group_keys=SQL(", ").join(SQL.identifier("g", dim) for dim in DIMS),
                spells=self._stage_spells(),
                first=self.month_from or "-infinity",
                to=self.month_to,
            )
        )
        self.cr.execute("ANALYZE kpi_tmp_lifecycle_cube")
