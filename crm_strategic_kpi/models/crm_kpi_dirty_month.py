from odoo import api, fields, models
from odoo.tools import SQL


class CrmKpiDirtyMonth(models.Model):
    """Days whose figures changed since the last successful recompute.

    Rows are written by the ORM hooks of every model a KPI reads (leads,
    partners, feedback, costs, tickets) and consumed by the nightly incremental
    recompute in the same transaction that stores the new figures. Days are UTC
    days; the engine widens them by one day on each side before taking the
    month in the company's timezone.

    A day already queued is updated, not skipped: the update locks its row
    until the change that queued it commits, so a run taking the queue at
    that moment waits for it (or, when the change committed after the run's
    snapshot, fails with a serialization error and leaves the queue to its
    next attempt) instead of consuming the day without seeing the change.
    """

    _name = "crm.kpi.dirty.month"
    _description = "KPI Recompute Queue"
    _log_access = False

    company_id = fields.Many2one(
        comodel_name="res.company", required=True, ondelete="cascade"
    )
    day = fields.Date(required=True)

    _company_day_unique = models.Constraint(
        "UNIQUE(company_id, day)", "A day is queued once per company."
    )

    @api.model
    def _mark(self, company_days):
        """Queue (company_id, date or datetime) pairs."""
        rows = {
            (company_id, fields.Date.to_date(day))
            for company_id, day in company_days
            if company_id and day
        }
        if not rows:
            return
        self.env.cr.execute(
            SQL(
                "INSERT INTO crm_kpi_dirty_month (company_id, day) VALUES %s "
                "ON CONFLICT (company_id, day) DO UPDATE SET day = EXCLUDED.day",
                SQL(", ").join(SQL("(%s, %s)", c, d) for c, d in sorted(rows)),
            )
        )

    @api.model
    def _mark_query(self, query):
        """Queue the (company_id, day) rows that ``query`` (an SQL) returns."""
        self.env.cr.execute(
            SQL(
                "INSERT INTO crm_kpi_dirty_month (company_id, day) "
                "SELECT DISTINCT q.company_id, q.day::date FROM (%s) q "
                "WHERE q.company_id IS NOT NULL AND q.day IS NOT NULL "
                "ON CONFLICT (company_id, day) DO UPDATE SET day = EXCLUDED.day",
                query,
            )
        )
