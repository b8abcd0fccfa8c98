from odoo import models


class CrmTeam(models.Model):
    _inherit = "crm.team"

    def write(self, vals):
        # a deal without a company of its own belongs to its team's company:
        # its days are queued under the old company and under the new one
        leads = self.env["crm.lead"]
        if "company_id" in vals:
            leads = self.filtered(
                lambda team: team.company_id.id != (vals["company_id"] or False)
            )._kpi_leads_without_company()
            leads._kpi_mark_dirty()
        res = super().write(vals)
        leads._kpi_mark_dirty()
        return res

    def unlink(self):
        # their deals without a company fall back to the main company
        leads = self._kpi_leads_without_company()
        leads._kpi_mark_dirty()
        res = super().unlink()
        leads._kpi_mark_dirty()
        return res

    def _kpi_leads_without_company(self):
        """These teams' deals (archived ones too) whose company is the
        team's."""
        if not self:
            return self.env["crm.lead"]
        return (
            self.env["crm.lead"]
            .sudo()
            .with_context(active_test=False)
            .search([("team_id", "in", self.ids), ("company_id", "=", False)])
        )
