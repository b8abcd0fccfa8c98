from odoo import models


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _merge(self, partner_ids, dst_partner=None, extra_checks=True):
        """The merge moves the leads of the merged partners to the remaining
        one with SQL updates, which no hook of the leads sees: queue the days
        of all their leads first, so that the nightly run recomputes those
        months (and reads every won deal again instead of a kept customer
        history). Odoo's merge also writes the remaining partner's values
        through the ORM, which queues its leads' days after the move; this
        does not rely on which values that write happens to carry."""
        partners = self.env["res.partner"].browse(partner_ids).exists()
        partners._kpi_mark_dirty()
        return super()._merge(partner_ids, dst_partner, extra_checks)
