from odoo import models


class CrmKpiFeedbackRequest(models.Model):
    _inherit = "crm.kpi.feedback.request"

    def _kpi_anonymise(self):
        """A request only links a customer to a token: it goes (its answer
        stays, anonymised on its own)."""
        self.sudo().unlink()


class CrmKpiLifecycleEvent(models.Model):
    _inherit = "crm.kpi.lifecycle.event"

    def _kpi_anonymise(self):
        """A stage change cannot exist without its customer: it goes, and
        the lifecycle counts lose it at the next recompute of its months."""
        events = self.sudo()
        self.env["crm.kpi.changed.day"].sudo()._mark(
            [(event.company_id.id, event.date) for event in events]
        )
        events.unlink()
