import logging
import secrets
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from .crm_kpi_feedback import SCORE_RANGES

_logger = logging.getLogger(__name__)

ORIGINS = {"crm.lead": "lead", "helpdesk.ticket": "ticket"}


class CrmKpiFeedbackRequest(models.Model):
    """A request for feedback sent by e-mail: its links carry a random token
    that opens the public answer page."""

    _name = "crm.kpi.feedback.request"
    _description = "Feedback Request"
    _order = "create_date desc, id desc"
    _check_company_auto = True
    _rec_name = "partner_id"

    token = fields.Char(
        required=True,
        readonly=True,
        copy=False,
        index=True,
        default=lambda self: secrets.token_urlsafe(24),
        groups="base.group_system",
    )
    kind = fields.Selection(
        selection=[("nps", "Net Promoter Score"), ("ces", "Customer Effort Score")],
        required=True,
        default="nps",
        readonly=True,
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner", required=True, readonly=True, index=True
    )
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id", store=True, index=True
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        readonly=True,
        default=lambda self: self.env.company,
        index=True,
    )
    res_model = fields.Char(string="Origin Model", readonly=True)
    res_id = fields.Many2oneReference(
        string="Origin Record", model_field="res_model", readonly=True
    )
    user_id = fields.Many2one(comodel_name="res.users", readonly=True)
    team_id = fields.Many2one(comodel_name="crm.team", readonly=True)
    expires_at = fields.Datetime(required=True, readonly=True)
    feedback_id = fields.Many2one(
        comodel_name="crm.kpi.feedback", readonly=True, ondelete="set null"
    )
    state = fields.Selection(
        selection=[
            ("sent", "Sent"),
            ("answered", "Answered"),
            ("expired", "Expired"),
        ],
        compute="_compute_state",
    )

    _token_unique = models.Constraint("UNIQUE(token)", "Tokens are unique.")

    @api.depends("feedback_id", "expires_at")
    def _compute_state(self):
        now = fields.Datetime.now()
        for req in self:
            if req.feedback_id:
                req.state = "answered"
            elif req.expires_at and req.expires_at < now:
                req.state = "expired"
            else:
                req.state = "sent"

    # ------------------------------------------------------------ public page
    @api.model
    def _get_by_token(self, token, include_expired=False):
        """The open request of ``token`` (as superuser), or an empty recordset
        when the token is unknown or, unless ``include_expired``, expired."""
        if not token or len(token) > 64:
            return self.browse()
        req = self.sudo().search([("token", "=", token)], limit=1)
        if not req or (not include_expired and req.expires_at < fields.Datetime.now()):
            return self.browse()
        return req

    def _valid_score(self, score):
        low, high = SCORE_RANGES[self.kind]
        return isinstance(score, int) and low <= score <= high

    def _record_score(self, score):
        """Record the answer, or correct it: one feedback row per request."""
        self.ensure_one()
        if self.feedback_id:
            self.feedback_id.score = score
            return self.feedback_id
        self.feedback_id = (
            self.env["crm.kpi.feedback"]
            .sudo()
            .create(
                {
                    "kind": self.kind,
                    "score": score,
                    "partner_id": self.partner_id.id,
                    "date": fields.Date.context_today(self),
                    "origin": ORIGINS.get(self.res_model, "manual"),
                    "res_model": self.res_model,
                    "res_id": self.res_id,
                    "company_id": self.company_id.id,
                    "user_id": self.user_id.id,
                    "team_id": self.team_id.id,
                }
            )
        )
        return self.feedback_id

    def _record_answer(self, score, comment=None):
        """Record or correct the answer sent with the public form: its score
        and its (optional) comment."""
        self.ensure_one()
        feedback = self._record_score(score)
        comment = (comment or "").strip()[:2000] or False
        if feedback.comment != comment:
            feedback.comment = comment
        return feedback

    def _record_opt_out(self):
        """The customer asked for no more feedback requests."""
        self.ensure_one()
        self.partner_id.sudo().kpi_feedback_opt_out = True

    def _get_answer_url(self, score):
        self.ensure_one()
        base = self.get_base_url()
        return f"{base}/kpi/feedback/{self.sudo().token}/{score}"

    def _get_opt_out_url(self):
        self.ensure_one()
        base = self.get_base_url()
        return f"{base}/kpi/feedback/{self.sudo().token}/opt-out"

    def _get_scores(self):
        low, high = SCORE_RANGES[self.kind]
        return list(range(low, high + 1))

    # ------------------------------------------------------------ sending
    @api.model
    def _prepare_request_values(self, origin, partner, kind="nps"):
        company = origin.company_id or self.env.company
        return {
            "kind": kind,
            "partner_id": partner.id,
            "company_id": company.id,
            "res_model": origin._name,
            "res_id": origin.id,
            "user_id": origin.user_id.id,
            # tickets have helpdesk teams, not sales teams
            "team_id": origin.team_id.id
            if "team_id" in origin and origin.team_id._name == "crm.team"
            else False,
            "expires_at": fields.Datetime.now()
            + timedelta(days=company.kpi_feedback_validity_days),
        }

    @api.model
    def _recently_asked(self, partners, kind="nps"):
        """Commercial partners asked for ``kind`` within their company's
        interval."""
        if not partners:
            return self.env["res.partner"]
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT r.commercial_partner_id
                  FROM crm_kpi_feedback_request r
                  JOIN res_company co ON co.id = r.company_id
                 WHERE r.kind = %(kind)s
                   AND r.commercial_partner_id IN %(partners)s
                   AND r.create_date > %(now)s
                                       - co.kpi_nps_interval_days * INTERVAL '1 day'
                """,
                now=fields.Datetime.now(),
                kind=kind,
                partners=tuple(partners.commercial_partner_id.ids),
            )
        )
        return self.env["res.partner"].browse(r[0] for r in self.env.cr.fetchall())

    @api.model
    def _get_askable(self, origins):
        """The origin records whose customer may lawfully be asked for
        feedback: their company asks for feedback; the partner has a valid
        e-mail address that is not blacklisted; neither the partner nor its
        commercial partner opted out; and, where the company's legal basis is
        consent, one of them agreed to be asked."""
        if not origins:
            return origins
        partners = origins.partner_id
        blacklisted = set(
            self.env["mail.blacklist"]
            .sudo()
            .search(
                [("email", "in", [e for e in partners.mapped("email_normalized") if e])]
            )
            .mapped("email")
        )

        def askable(origin):
            partner = origin.partner_id.sudo()
            company = origin.company_id or self.env.company
            if not (company.kpi_feedback_requests and partner.email_normalized):
                return False
            if partner.email_normalized in blacklisted:
                return False
            people = partner | partner.commercial_partner_id
            if any(people.mapped("kpi_feedback_opt_out")):
                return False
            if company.kpi_feedback_legal_basis == "consent":
                return any(people.mapped("kpi_feedback_consent"))
            return True

        return origins.filtered(askable)

    @api.model
    def _cron_send_nps_requests(self):
        """Ask the customers of deals won ``kpi_nps_delay_days`` ago (looking
        back 30 days further, so a missed night is caught up) for their NPS,
        at most once per customer and interval."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
            SELECT l.id
              FROM crm_lead l
              JOIN res_partner p ON p.id = l.partner_id
              LEFT JOIN crm_team t ON t.id = l.team_id
              JOIN res_company co
                ON co.id = COALESCE(l.company_id, t.company_id, p.company_id,
                                    (SELECT MIN(id) FROM res_company))
             WHERE l.won_status = 'won' AND co.kpi_feedback_requests
               AND COALESCE(p.email, '') <> ''
               AND l.date_closed <= %(now)s
                                    - co.kpi_nps_delay_days * INTERVAL '1 day'
               AND l.date_closed > %(now)s
                                   - (co.kpi_nps_delay_days + 30) * INTERVAL '1 day'
               AND NOT EXISTS (
                   SELECT 1 FROM crm_kpi_feedback_request r
                    WHERE r.res_model = 'crm.lead' AND r.res_id = l.id)
             ORDER BY l.date_closed
            """,
                now=fields.Datetime.now(),
            )
        )
        leads = self.env["crm.lead"].browse(r[0] for r in self.env.cr.fetchall())
        return self._send_requests(leads, "nps")

    def _send_requests(self, origins, kind, once_per_interval=True):
        """Create and e-mail one request per origin record; with
        ``once_per_interval``, only to customers not asked for ``kind`` within
        their company's interval. Returns the requests sent."""
        origins = self._get_askable(origins)
        asked = (
            self._recently_asked(origins.partner_id, kind)
            if once_per_interval
            else self.env["res.partner"]
        )
        template = self.env.ref(f"crm_strategic_kpi.mail_template_feedback_{kind}")
        requests = self.browse()
        for origin in origins:
            partner = origin.partner_id
            if partner.commercial_partner_id in asked:
                continue
            if once_per_interval:
                asked |= partner.commercial_partner_id
            requests |= self.sudo().create(
                self._prepare_request_values(origin, partner, kind)
            )
        for request in requests:
            template.send_mail(
                request.id, email_layout_xmlid="mail.mail_notification_light"
            )
        _logger.info("Sent %s %s feedback requests", len(requests), kind)
        return requests
