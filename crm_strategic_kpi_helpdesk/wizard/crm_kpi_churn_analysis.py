from dateutil.relativedelta import relativedelta

from odoo import fields, models
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.engine.rules import month_start

TICKET_BANDS = [
    ("none", "No ticket"),
    ("1_2", "1 to 2 tickets"),
    ("3_5", "3 to 5 tickets"),
    ("6_plus", "6 tickets or more"),
]


class CrmKpiChurnAnalysis(models.TransientModel):
    _inherit = "crm.kpi.churn.analysis"

    def _compute_lines(self):
        """Each customer's tickets of the twelve months before the analysed
        month, in bands."""
        res = super()._compute_lines()
        start = month_start(self.month)
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_kpi_churn_analysis_line SET ticket_band = 'none'
                 WHERE analysis_id = %(analysis)s;
                UPDATE crm_kpi_churn_analysis_line line
                   SET ticket_band = CASE WHEN t.tickets <= 2 THEN '1_2'
                                          WHEN t.tickets <= 5 THEN '3_5'
                                          ELSE '6_plus' END
                  FROM (SELECT commercial_partner_id AS partner_id,
                               COUNT(*) AS tickets
                          FROM helpdesk_ticket
                         WHERE company_id = %(company)s
                           AND create_date >= %(since)s AND create_date < %(start)s
                         GROUP BY commercial_partner_id) t
                 WHERE line.analysis_id = %(analysis)s
                   AND line.partner_id = t.partner_id
                """,
                company=self.company_id.id,
                since=start - relativedelta(months=12),
                start=start,
                analysis=self.id,
            )
        )
        self.line_ids.invalidate_recordset(["ticket_band"])
        return res


class CrmKpiChurnAnalysisLine(models.TransientModel):
    _inherit = "crm.kpi.churn.analysis.line"

    ticket_band = fields.Selection(
        selection=TICKET_BANDS,
        string="Tickets",
        default="none",
        help="The customer's helpdesk tickets of the twelve months before the "
        "analysed month.",
    )
