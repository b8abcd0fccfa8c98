import logging

from odoo import api, fields, models
from odoo.exceptions import ValidationError
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

    @api.constrains("rule")
    def _check_rule(self):
        for segment in self:
            try:
                segment._get_rule_domain()
            except Exception as exc:
                raise ValidationError(
                    self.env._(
                        "The rule of segment %(segment)s is not a valid filter on "
                        "contacts: %(error)s. Build it with the domain editor.",
                        segment=segment.name,
                        error=exc,
                    )
                ) from exc

    def _get_rule_domain(self):
        """The rule as a validated Domain on res.partner (raises if invalid)."""
        self.ensure_one()
        domain = Domain(safe_eval(self.rule or "[]"))
        partners = self.env["res.partner"]
        domain.validate(partners)
        # compiling the query catches unknown fields and bad operators
        partners._search(domain)
        return domain

    def action_assign_segments(self):
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
            try:
                with cr.savepoint():
                    domain = segment._get_rule_domain()
                    if segment.company_id:
                        domain &= Domain(
                            "company_id", "in", [segment.company_id.id, False]
                        )
                    query = Partner.sudo()._search(domain)
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
