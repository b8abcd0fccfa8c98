"""Monthly totals of the KPI facts: one row per KPI, company and month.

Most analyses (the pivot of KPIs by month, the overview, goals, reports) group
the facts by KPI, company and period only. Those read the totals instead of
summing every combination of dimensions: a few thousand rows instead of
millions. The engine writes the totals together with the facts, in the same
statement and savepoint, so both always agree; ``crm.kpi.value._read_group``
chooses them only when the result cannot differ (see there).
"""

from odoo import fields, models
from odoo.tools import SQL


class CrmKpiTotal(models.Model):
    _name = "crm.kpi.total"
    _inherit = ["crm.kpi.fact.mixin"]
    _description = "KPI Monthly Total"
    _order = "date desc, kpi_id, id"
    _rec_name = "kpi_id"
    _log_access = False

    fact_count = fields.Integer(
        string="Facts",
        readonly=True,
        aggregator="sum",
        help="Number of facts (combinations of dimensions) summed in this total.",
    )

    _kpi_company_date_uniq = models.UniqueIndex("(kpi_id, company_id, date)")

    def init(self):
        # Databases that had facts before the totals existed get them here.
        self.env.cr.execute("SELECT 1 FROM crm_kpi_total LIMIT 1")
        if not self.env.cr.fetchone():
            self.env.cr.execute(
                SQL(
                    "INSERT INTO crm_kpi_total (%s) %s",
                    self._total_columns(),
                    self._totals_of(SQL("crm_kpi_value")),
                )
            )

    @staticmethod
    def _total_columns():
        return SQL(
            "kpi_id, kpi_code, category, unit, factor, is_ratio, currency_id, "
            "date, company_id, numerator, denominator, value, has_value, fact_count"
        )

    @staticmethod
    def _totals_of(facts):
        """SELECT of the totals of ``facts`` (a table or CTE name with the
        columns of crm_kpi_value), in the order of ``_total_columns``."""
        return SQL(
            """
            SELECT f.kpi_id, MAX(f.kpi_code), MAX(f.category), MAX(f.unit),
                   MAX(f.factor), bool_and(f.is_ratio), MAX(f.currency_id),
                   f.date, f.company_id, SUM(f.numerator), SUM(f.denominator),
                   CASE WHEN bool_and(f.is_ratio)
                        THEN MAX(f.factor) * SUM(f.numerator)
                             / NULLIF(SUM(f.denominator), 0)
                        ELSE MAX(f.factor) * SUM(f.numerator) END,
                   NOT bool_and(f.is_ratio) OR SUM(f.denominator) <> 0,
                   COUNT(*)
              FROM %s f
             GROUP BY f.kpi_id, f.company_id, f.date
            """,
            facts,
        )
