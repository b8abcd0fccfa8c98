from odoo import fields, models


class HelpdeskTicketTeam(models.Model):
    _inherit = "helpdesk.ticket.team"

    resource_calendar_id = fields.Many2one(
        comodel_name="resource.calendar",
        string="Working Hours",
        check_company=True,
        help="Business-hours resolution times count only these hours; without "
        "a calendar the company's working hours apply.",
    )
