from odoo import fields, models
from odoo.tools import SQL

from ..models.res_partner import PRICE_BANDS


class CrmKpiChurnAnalysis(models.TransientModel):
    _inherit = "crm.kpi.churn.analysis"

    def _compute_lines(self):
        """The customers' favourite product category and price range beside
        the other attributes of churned and retained customers."""
        res = super()._compute_lines()
        self.env["res.partner"].flush_model(
            ["kpi_favourite_categ_id", "kpi_price_band"]
        )
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_kpi_churn_analysis_line ln
                   SET favourite_categ_id = c.kpi_favourite_categ_id,
                       price_band = c.kpi_price_band
                  FROM res_partner c
                 WHERE c.id = ln.partner_id AND ln.analysis_id = %s
                """,
                self.id,
            )
        )
        self.env["crm.kpi.churn.analysis.line"].invalidate_model(
            ["favourite_categ_id", "price_band"]
        )
        return res


class CrmKpiChurnAnalysisLine(models.TransientModel):
    _inherit = "crm.kpi.churn.analysis.line"

    favourite_categ_id = fields.Many2one(
        comodel_name="product.category", string="Favourite Product Category"
    )
    price_band = fields.Selection(selection=PRICE_BANDS, string="Typical Price Range")
