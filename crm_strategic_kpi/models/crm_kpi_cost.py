from odoo import api, fields, models
from odoo.exceptions import ValidationError


class CrmKpiCost(models.Model):
    _name = "crm.kpi.cost"
    _description = "KPI Cost or Traffic Entry"
    _order = "date desc, id desc"
    _check_company_auto = True

    date = fields.Date(required=True, default=fields.Date.context_today, index=True)
    category = fields.Selection(
        selection=[
            ("marketing", "Marketing cost"),
            ("sales", "Sales cost"),
            ("retention", "Retention cost"),
            ("visitors", "Website visitors"),
        ],
        required=True,
        default="marketing",
    )
    amount = fields.Float(
        required=True,
        help="Money in the company currency; for website visitors, the number of "
        "visits.",
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        default=lambda self: self.env.company,
        index=True,
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    campaign_id = fields.Many2one(comodel_name="utm.campaign")
    team_id = fields.Many2one(comodel_name="crm.team", check_company=True)
    note = fields.Char()

    @api.constrains("amount", "category")
    def _check_amount(self):
        for cost in self:
            if cost.amount < 0:
                raise ValidationError(
                    self.env._(
                        "A cost or visitor count cannot be negative (%(amount)s on "
                        "%(date)s). Enter a positive amount.",
                        amount=cost.amount,
                        date=cost.date,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        costs = super().create(vals_list)
        costs._kpi_mark_dirty()
        return costs

    def write(self, vals):
        self._kpi_mark_dirty()
        res = super().write(vals)
        self._kpi_mark_dirty()
        return res

    def unlink(self):
        self._kpi_mark_dirty()
        return super().unlink()

    def _kpi_mark_dirty(self):
        self.env["crm.kpi.dirty.month"]._mark(
            [(cost.company_id.id, cost.date) for cost in self if cost.date]
        )
