from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

# The strategic KPIs' records of a customer that can be anonymised
ANONYMISABLE = (
    "crm.kpi.feedback",
    "crm.kpi.feedback.request",
    "crm.kpi.lifecycle.event",
)


class PrivacyLookupWizard(models.TransientModel):
    _inherit = "privacy.lookup.wizard"

    def _get_query(self):
        """Lifecycle events follow their customer on deletion (cascade), so
        the standard lookup leaves them out: they are personal data all the
        same."""
        query = super()._get_query()
        model_id = self.env["ir.model"]._get_id("crm.kpi.lifecycle.event")
        return SQL(
            """
            %s
            UNION ALL
            SELECT %s AS res_model_id, e.id AS res_id, TRUE AS is_active
              FROM crm_kpi_lifecycle_event e
             WHERE e.partner_id IN (SELECT id FROM indirect_references)
            """,
            query,
            model_id,
        )


class PrivacyLookupWizardLine(models.TransientModel):
    _inherit = "privacy.lookup.wizard.line"

    kpi_can_anonymise = fields.Boolean(
        string="Can Be Anonymised", compute="_compute_kpi_can_anonymise"
    )
    kpi_is_anonymised = fields.Boolean(string="Anonymised", readonly=True)

    @api.depends("res_model")
    def _compute_kpi_can_anonymise(self):
        for line in self:
            line.kpi_can_anonymise = line.res_model in ANONYMISABLE

    def action_kpi_anonymise(self):
        for line in self:
            if line.res_model not in ANONYMISABLE:
                raise UserError(
                    self.env._("Only strategic KPI records can be anonymised.")
                )
            if line.is_unlinked or line.kpi_is_anonymised:
                continue
            record = self.env[line.res_model].sudo().browse(line.res_id).exists()
            if record:
                record._kpi_anonymise()
            line.write(
                {
                    "kpi_is_anonymised": True,
                    "is_unlinked": line.res_model != "crm.kpi.feedback",
                    "execution_details": self.env._(
                        "Anonymised %(model)s #%(id)s",
                        model=line.res_model_id.name,
                        id=line.res_id,
                    ),
                }
            )
