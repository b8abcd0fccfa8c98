from functools import partial

from odoo import api, models
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.models.kpi_engine import SCOPE_MONTH, _dims


class CrmKpiValue(models.Model):
    _inherit = "crm.kpi.value"

    @api.model
    def _get_kpi_queries(self, engine):
        queries = super()._get_kpi_queries(engine)
        queries.update(
            {
                "time_to_resolution": (
                    SCOPE_MONTH,
                    partial(self._q_ticket_resolution, engine, "kpi_resolution_hours"),
                ),
                "time_to_resolution_business": (
                    SCOPE_MONTH,
                    partial(
                        self._q_ticket_resolution,
                        engine,
                        "kpi_resolution_business_hours",
                    ),
                ),
                "first_contact_resolution": (
                    SCOPE_MONTH,
                    partial(self._q_ticket_resolution, engine, None),
                ),
            }
        )
        return queries

    @api.model
    def _q_ticket_resolution(self, engine, hours_column):
        """Tickets first resolved in the month (company timezone): their
        resolution hours, or whether they were never reopened (first-contact
        resolution). Dimensions: the customer's sales team (its salesperson's),
        the ticket's assigned user, the customer's segment."""
        num = (
            SQL.identifier("t", hours_column)
            if hours_column
            else SQL("(COALESCE(t.kpi_reopen_count, 0) = 0)::int")
        )
        return SQL(
            """
            SELECT date_trunc('month', %(resolved)s)::date AS month,
                   t.company_id, %(dims)s,
                   (%(num)s)::numeric AS num, 1::numeric AS den,
                   'helpdesk.ticket' AS res_model, t.id AS res_id
              FROM (SELECT tk.id, tk.company_id, tk.user_id,
                           tk.kpi_first_resolved_at, tk.kpi_reopen_count,
                           tk.kpi_resolution_hours,
                           tk.kpi_resolution_business_hours,
                           u.sale_team_id AS team_id,
                           cp.kpi_segment_id AS segment_id
                      FROM helpdesk_ticket tk
                      LEFT JOIN res_partner cp ON cp.id = tk.commercial_partner_id
                      LEFT JOIN res_users u ON u.id = cp.user_id) t
              JOIN kpi_tmp_company co ON co.id = t.company_id
             WHERE t.kpi_first_resolved_at IS NOT NULL
            """,
            resolved=engine._local(SQL("t.kpi_first_resolved_at")),
            dims=_dims("t", ("team_id", "user_id", "segment_id")),
            num=num,
        )
