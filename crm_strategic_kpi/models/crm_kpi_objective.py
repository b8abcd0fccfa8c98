from odoo import fields, models


class CrmKpiObjective(models.Model):
    """A strategic objective that goals serve (Relevant)."""

    _name = "crm.kpi.objective"
    _description = "Strategic Objective"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    kpi_ids = fields.Many2many(comodel_name="crm.kpi", string="KPIs")
    goal_ids = fields.One2many(comodel_name="crm.kpi.goal", inverse_name="objective_id")
