from odoo import models
from odoo.tools import SQL


class CrmTeam(models.Model):
    _inherit = "crm.team"

    def write(self, vals):
        # a deal without a company of its own belongs to its team's company
        moved = self.browse()
        if "company_id" in vals:
            moved = self.filtered(
                lambda team: team.company_id.id != (vals["company_id"] or False)
            )
            moved._kpi_mark_dirty()
        res = super().write(vals)
        moved._kpi_mark_dirty()
        return res

    def unlink(self):
        # their deals without a company fall back to the main company
        self._kpi_mark_dirty(fallback=True)
        return super().unlink()

    def _kpi_mark_dirty(self, fallback=False):
        """Queue the days of these teams' deals that have no company of their
        own, under the teams' companies (and, with ``fallback``, the main
        company's)."""
        if not self.ids:
            return
        self.flush_model(["company_id"])
        self.env["crm.lead"].flush_model(["team_id", "company_id"])
        main = self.env.ref("base.main_company").id
        companies = SQL("(VALUES (COALESCE(t.company_id, %s)))", main)
        if fallback:
            companies = SQL("(VALUES (COALESCE(t.company_id, %s)), (%s))", main, main)
        self.env["crm.kpi.dirty.month"].sudo()._mark_query(
            SQL(
                """
                SELECT c.company_id, d.day
                  FROM crm_lead l
                  JOIN crm_team t ON t.id = l.team_id
                 CROSS JOIN LATERAL %(companies)s c(company_id)
                 CROSS JOIN LATERAL (VALUES (l.create_date), (l.date_closed)) d(day)
                 WHERE l.team_id IN %(ids)s AND l.company_id IS NULL
                """,
                companies=companies,
                ids=tuple(self.ids),
            )
        )
