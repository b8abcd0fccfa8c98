from odoo import fields, models


class CrmKpiSegment(models.Model):
    _name = "crm.kpi.segment"
    _description = "Customer Segment"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    color = fields.Integer()
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        comodel_name="res.company",
        help="Leave empty to use the segment in every company.",
    )
    partner_ids = fields.One2many(
        comodel_name="res.partner", inverse_name="kpi_segment_id"
    )
    partner_count = fields.Integer(compute="_compute_partner_count")

    def _compute_partner_count(self):
        counts = dict(
            self.env["res.partner"]._read_group(
                [("kpi_segment_id", "in", self.ids)],
                ["kpi_segment_id"],
                ["__count"],
            )
        )
        for segment in self:
            segment.partner_count = counts.get(segment, 0)
