from odoo import fields, models

from ..engine.lifecycle import LIFECYCLE_STAGES
from .customer_intelligence import LIFECYCLE_REASONS


class CrmKpiLifecycleEvent(models.Model):
    """A customer moved from one lifecycle stage to another."""

    _name = "crm.kpi.lifecycle.event"
    _description = "Customer Lifecycle Event"
    _order = "date desc, id desc"
    _check_company_auto = True

    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, index=True, readonly=True
    )
    from_stage = fields.Selection(selection=LIFECYCLE_STAGES, readonly=True)
    to_stage = fields.Selection(selection=LIFECYCLE_STAGES, readonly=True)
    date = fields.Date(required=True, readonly=True, index=True)
    reason = fields.Selection(selection=LIFECYCLE_REASONS, readonly=True)
    days_in_from_stage = fields.Integer(
        string="Days in Previous Stage",
        readonly=True,
        aggregator="avg",
        help="Days since the previous change of stage (empty for the first one).",
    )
    user_id = fields.Many2one(related="partner_id.user_id", string="Salesperson")
    segment_id = fields.Many2one(related="partner_id.kpi_segment_id", string="Segment")
