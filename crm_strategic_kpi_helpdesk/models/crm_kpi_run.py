from odoo import api, models
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.engine import (
    PARTNER_DIMS,
    SCOPE_MONTH,
    Kpi,
    Measure,
    Source,
)


def _resolved_tickets(run):
    """Tickets first resolved in the run's months, dated in their company's
    timezone. Dimensions: the customer's sales team (its salesperson's), the
    ticket's assigned user, the customer's segment."""
    return SQL(
        """
        (SELECT tk.id, tk.company_id, tk.user_id, tk.kpi_reopen_count,
                tk.kpi_resolution_hours, tk.kpi_resolution_business_hours,
                u.sale_team_id AS team_id, cp.kpi_segment_id AS segment_id,
                date_trunc('month', %(resolved)s)::date AS month
           FROM helpdesk_ticket tk
           LEFT JOIN res_partner cp ON cp.id = tk.commercial_partner_id
           LEFT JOIN res_users u ON u.id = cp.user_id
          WHERE tk.kpi_first_resolved_at IS NOT NULL AND %(companies)s) t
        """,
        resolved=run.local_time(SQL("tk.kpi_first_resolved_at"), SQL("tk.company_id")),
        companies=run.in_companies(SQL("tk.company_id")),
    )


TICKETS = Source(
    "ticket",
    "t",
    _resolved_tickets,
    "helpdesk.ticket",
    dims=PARTNER_DIMS,
    needs=("companies",),
)
TICKET_KPIS = (
    Kpi(
        "time_to_resolution",
        SCOPE_MONTH,
        (Measure("ticket", "t.kpi_resolution_hours", "1"),),
    ),
    Kpi(
        "time_to_resolution_business",
        SCOPE_MONTH,
        (Measure("ticket", "t.kpi_resolution_business_hours", "1"),),
    ),
    Kpi(
        "first_contact_resolution",
        SCOPE_MONTH,
        (Measure("ticket", "(COALESCE(t.kpi_reopen_count, 0) = 0)::int", "1"),),
    ),
)


class CrmKpiRun(models.AbstractModel):
    _inherit = "crm.kpi.run"

    @api.model
    def _get_catalogue(self):
        catalogue = super()._get_catalogue()
        catalogue.add_source(TICKETS)
        for kpi in TICKET_KPIS:
            catalogue.add_kpi(kpi)
        return catalogue
