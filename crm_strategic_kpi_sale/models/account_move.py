from odoo import api, models
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.models.crm_lead import SINGLE_REFRESH_LIMIT

from ..sources import INVOICE

# Fields of account.move the KPIs read: writing one queues the invoice's
# days. Lines of a posted move cannot change: posting, resetting to draft
# and cancelling write the state.
KPI_MOVE_FIELDS = {
    "campaign_id",
    "company_id",
    "invoice_date",
    "invoice_user_id",
    "line_ids",
    "invoice_line_ids",
    "medium_id",
    "move_type",
    "partner_id",
    "source_id",
    "state",
    "team_id",
}


class AccountMove(models.Model):
    _inherit = "account.move"

    def write(self, vals):
        relevant = not KPI_MOVE_FIELDS.isdisjoint(vals)
        if relevant:
            self._kpi_mark_dirty()
            partners_before = self.commercial_partner_id
        res = super().write(vals)
        if relevant:
            self._kpi_mark_dirty()
            partners = self.commercial_partner_id | partners_before
            invoices = any(
                move.move_type in ("out_invoice", "out_refund") for move in self
            )
            if invoices and len(partners) <= SINGLE_REFRESH_LIMIT:
                partners._kpi_refresh_customers()
        return res

    @api.ondelete(at_uninstall=False)
    def _kpi_unlink_mark_dirty(self):
        self._kpi_mark_dirty()

    def _kpi_mark_dirty(self):
        """Queue the invoice dates of these customer invoices and credit
        notes in the companies that read invoices (a draft counts nowhere:
        it is queued when it is posted)."""
        invoices = self.filtered(lambda m: m.move_type in ("out_invoice", "out_refund"))
        if not invoices.ids:
            return
        invoices.flush_recordset(["company_id", "invoice_date", "move_type"])
        self.env["res.company"].flush_model(["kpi_revenue_source"])
        self.env["crm.kpi.changed.day"]._mark_query(
            SQL(
                """
                SELECT am.company_id, am.invoice_date AS day
                  FROM account_move am
                  JOIN res_company c ON c.id = am.company_id
                 WHERE am.id IN %s AND am.invoice_date IS NOT NULL
                   AND c.kpi_revenue_source = %s
                """,
                tuple(invoices.ids),
                INVOICE,
            )
        )
