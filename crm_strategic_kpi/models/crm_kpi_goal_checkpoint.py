from odoo import fields, models

from .crm_kpi_goal import STATUSES


class CrmKpiGoalCheckpoint(models.Model):
    """The figures of a running goal on one day, for its history chart."""

    _name = "crm.kpi.goal.checkpoint"
    _description = "Goal Checkpoint"
    _order = "date"

    goal_id = fields.Many2one(
        comodel_name="crm.kpi.goal", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="goal_id.company_id", store=True)
    date = fields.Date(required=True)
    value = fields.Float(digits=(16, 2), aggregator="avg")
    progress = fields.Float(string="Actual Progress", aggregator="avg")
    expected_progress = fields.Float(string="Ideal Progress", aggregator="avg")
    status = fields.Selection(selection=STATUSES)
