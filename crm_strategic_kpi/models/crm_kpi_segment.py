import logging

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.fields import Domain
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

_logger = logging.getLogger(__name__)


class CrmKpiSegment(models.Model):
    _name = "crm.kpi.segment"
    _inherit = ["mail.thread"]
    _description = "Customer Segment"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True)
    sequence = fields.Integer(default=10)
    color = fields.Integer()
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        comodel_name="res.company",
        help="Leave empty to use the segment in every company.",
    )
    rule = fields.Char(
        default="[]",
        tracking=True,
        help="Customers (companies and individuals, not their contacts) matching "
        "this domain join the segment, unless an earlier segment took them or "
        "their segment is kept by hand.",
    )
    rule_user_id = fields.Many2one(
        comodel_name="res.users",
        string="Rule Evaluated As",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The user who last wrote the rule: it is evaluated with this "
        "user's access rights and companies, so it reaches only the customers "
        "and fields that user may read.",
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

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            vals["rule_user_id"] = self.env.uid
        return super().create(vals_list)

    def write(self, vals):
        # the rule's user is always the one who writes it, never chosen
        if {"rule", "company_id", "rule_user_id"} & set(vals):
            vals = dict(vals, rule_user_id=self.env.uid)
        return super().write(vals)

    @api.constrains("rule", "company_id")
    def _check_rule(self):
        # constraints run as superuser: the rule is checked with the rights
        # of the user who writes it
        partners = self.env["res.partner"].with_user(self.env.uid)
        for segment in self:
            try:
                segment._get_rule_domain(partners)
            except AccessError as exc:
                raise ValidationError(
                    self.env._(
                        "The rule of segment %(segment)s filters on data you may "
                        "not read: %(error)s",
                        segment=segment.name,
                        error=exc,
                    )
                ) from exc
            except Exception as exc:
                raise ValidationError(
                    self.env._(
                        "The rule of segment %(segment)s is not a valid filter on "
                        "contacts: %(error)s. Build it with the domain editor.",
                        segment=segment.name,
                        error=exc,
                    )
                ) from exc

    def _get_rule_domain(self, partners=None):
        """The rule as a validated Domain on res.partner (raises if invalid,
        AccessError if it filters on a field ``partners``' user may not
        read; by default the current user's)."""
        self.ensure_one()
        domain = Domain(safe_eval(self.rule or "[]"))
        partners = self.env["res.partner"] if partners is None else partners
        domain.validate(partners)
        # compiling the query catches unknown fields, bad operators and
        # fields the user may not read
        partners._search(domain)
        return domain

    def _get_rule_partners(self):
        """res.partner as the segment's rule is evaluated: with the rights of
        the user who wrote the rule, in the segment's company (or, for a
        segment of every company, in that user's companies). None when that
        user is gone or does not work in the segment's company."""
        self.ensure_one()
        Partner = self.env["res.partner"].with_context(active_test=False)
        author = self.rule_user_id.sudo()
        if author.id == SUPERUSER_ID:
            # rules shipped with the module, or written by the system
            return Partner.sudo()
        if not author.active:
            # deleted or archived: nobody answers for the rule any more
            return None
        companies = self.company_id or author.company_ids
        if companies - author.company_ids:
            return None
        return Partner.with_user(author).with_context(allowed_company_ids=companies.ids)

    def action_assign_segments(self):
        if not self.env.user.has_group("crm_strategic_kpi.group_kpi_manager"):
            raise AccessError(
                self.env._("Only KPI managers can reassign the customer segments.")
            )
        count = self._assign_segments()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Segments reassigned"),
                "message": self.env._(
                    "%(count)s customers changed segment.", count=count
                ),
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    @api.model
    def _assign_segments(self):
        """Give every customer whose segment is not kept by hand the first
        active segment (by sequence) whose rule matches, set-based: one query
        per segment, one update for all changes. A rule that fails is skipped,
        logged and reported on the segment. Returns the number of customers
        whose segment changed."""
        cr = self.env.cr
        self.env.flush_all()
        cr.execute("DROP TABLE IF EXISTS kpi_tmp_segment")
        cr.execute(
            "CREATE TEMP TABLE kpi_tmp_segment "
            "(partner_id int PRIMARY KEY, segment_id int)"
        )
        Partner = self.env["res.partner"].with_context(active_test=False)
        segments = self.sudo().search([], order="sequence, id")  # pylint: disable=no-search-all
        for segment in segments:
            partners = segment._get_rule_partners()
            if partners is None:
                _logger.warning(
                    "Segment %s skipped: the user of its rule is archived or "
                    "no longer works in its company",
                    segment.id,
                )
                continue
            try:
                with cr.savepoint():
                    domain = segment._get_rule_domain(partners)
                    if segment.company_id:
                        domain &= Domain(
                            "company_id", "in", [segment.company_id.id, False]
                        )
                    query = partners._search(domain)
                    cr.execute(
                        SQL(
                            """
                            INSERT INTO kpi_tmp_segment (partner_id, segment_id)
                            SELECT p.id, %(segment)s FROM res_partner p
                             WHERE p.id IN %(matching)s
                               AND p.id = p.commercial_partner_id
                               AND NOT COALESCE(p.kpi_segment_locked, FALSE)
                            ON CONFLICT (partner_id) DO NOTHING
                            """,
                            segment=segment.id,
                            matching=query.subselect(),
                        )
                    )
            except Exception as exc:
                _logger.warning(
                    "Segment %s skipped: its rule fails (%s)", segment.id, exc
                )
                segment.message_post(
                    body=self.env._(
                        "This segment was skipped when segments were reassigned: "
                        "its rule fails (%(error)s). Correct the rule.",
                        error=exc,
                    )
                )
        # customers no rule matches leave their former (rule-given) segment
        cr.execute(
            """
            WITH changed AS (
                UPDATE res_partner p SET kpi_segment_id = t.segment_id
                  FROM res_partner c
                  LEFT JOIN kpi_tmp_segment t ON t.partner_id = c.id
                 WHERE p.id = c.id AND c.id = c.commercial_partner_id
                   AND NOT COALESCE(c.kpi_segment_locked, FALSE)
                   AND c.kpi_segment_id IS DISTINCT FROM t.segment_id
                RETURNING p.id
            )
            SELECT array_agg(id) FROM changed
            """
        )
        changed_ids = cr.fetchone()[0] or []
        cr.execute("DROP TABLE kpi_tmp_segment")
        Partner.invalidate_model(["kpi_segment_id"])
        if changed_ids:
            # their deals' figures carry the segment as a dimension
            Partner.browse(changed_ids)._kpi_mark_dirty()
        return len(changed_ids)
