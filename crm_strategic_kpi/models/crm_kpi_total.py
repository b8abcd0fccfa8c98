"""Monthly totals of the KPI facts: one row per KPI, company and month.

Most analyses (the pivot of KPIs by month, the overview, goals, reports) group
the facts by KPI, company and period only. Those read the totals instead of
summing every combination of dimensions: a few thousand rows instead of
millions. The engine writes the totals of the months whose facts it
rewrote, summed from the same rows in the same savepoint, and facts changed
through the ORM get theirs re-summed, so both always agree;
``crm.kpi.value._read_group`` chooses them only when the result cannot differ
(see there).
"""

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..engine.rules import value_from_sums_sql

# bit_xor and hash_record_extended (the fingerprints) came with PostgreSQL 14
MIN_PG_VERSION = 140000


class CrmKpiTotal(models.Model):
    _name = "crm.kpi.total"
    _inherit = ["crm.kpi.fact.mixin"]
    _description = "KPI Monthly Total"
    _order = "date desc, kpi_id, id"
    _rec_name = "kpi_id"
    _log_access = False

    fact_count = fields.Integer(
        string="Facts",
        readonly=True,
        aggregator="sum",
        help="Number of facts (combinations of dimensions) summed in this total.",
    )

    fingerprint = fields.Char(
        readonly=True,
        help="Technical: a hash of the facts summed in this total (their "
        "dimensions and figures). A recompute whose rows of this month have the "
        "same fingerprint and count leaves the facts as they are.",
    )

    _kpi_company_date_uniq = models.UniqueIndex("(kpi_id, company_id, date)")

    def init(self):
        cr = self.env.cr
        if cr.connection.server_version < MIN_PG_VERSION:
            raise UserError(
                self.env._(
                    "Strategic KPIs need PostgreSQL 14 or later; this database "
                    "server runs version %(version)s.",
                    version=cr.connection.server_version,
                )
            )

    @staticmethod
    def _total_columns():
        return SQL(
            "kpi_id, kpi_code, category, unit, factor, is_ratio, currency_id, "
            "date, company_id, numerator, denominator, value, has_value, fact_count, "
            "fingerprint, month_to_date"
        )

    @staticmethod
    def _fingerprint(alias, uniform=False):
        """Aggregate expression: a hash of the facts ``alias`` of one KPI,
        company and month, independent of their order. Each fact is hashed
        on what varies within a month: its dimensions, currency and figures.
        The KPI's own columns (code, category, unit, factor, ratio flag) are
        compared on the total, whose fingerprint is marked when they differ
        between its facts (facts edited by a script): such a month never
        matches a recompute. ``uniform``: the rows are known to carry one
        KPI definition (the engine's), the mark is left out. The expression
        sees the columns' types, so it must be given rows typed as the
        table's."""
        fingerprint = SQL(
            """to_hex(bit_xor(hash_record_extended(ROW(
                   %(a)s.currency_id, %(a)s.team_id, %(a)s.user_id,
                   %(a)s.segment_id, %(a)s.campaign_id, %(a)s.source_id,
                   %(a)s.medium_id, %(a)s.numerator, %(a)s.denominator,
                   %(a)s.value, %(a)s.has_value), 0)))""",
            a=alias,
        )
        if uniform:
            return fingerprint
        return SQL(
            """%(fingerprint)s || CASE
                WHEN COUNT(%(a)s.kpi_code) = COUNT(*)
                 AND COUNT(%(a)s.category) = COUNT(*)
                 AND COUNT(%(a)s.unit) = COUNT(*)
                 AND COUNT(%(a)s.factor) = COUNT(*)
                 AND COUNT(%(a)s.is_ratio) = COUNT(*)
                 AND MIN(%(a)s.kpi_code) = MAX(%(a)s.kpi_code)
                 AND MIN(%(a)s.category) = MAX(%(a)s.category)
                 AND MIN(%(a)s.unit) = MAX(%(a)s.unit)
                 AND MIN(%(a)s.factor) = MAX(%(a)s.factor)
                 AND bool_and(%(a)s.is_ratio) = bool_or(%(a)s.is_ratio)
                THEN '' ELSE ' mixed' END""",
            fingerprint=fingerprint,
            a=alias,
        )

    @staticmethod
    def _totals_of(facts, uniform=False):
        """SELECT of the totals of ``facts`` (a table or CTE name with the
        columns of crm_kpi_value), in the order and with the names of
        ``_total_columns``. ``uniform``: as for ``_fingerprint``."""
        return SQL(
            """
            SELECT f.kpi_id, MAX(f.kpi_code) AS kpi_code,
                   MAX(f.category) AS category, MAX(f.unit) AS unit,
                   MAX(f.factor) AS factor, bool_and(f.is_ratio) AS is_ratio,
                   MAX(f.currency_id) AS currency_id,
                   f.date, f.company_id, SUM(f.numerator) AS numerator,
                   SUM(f.denominator) AS denominator,
                   %s AS value,
                   NOT bool_and(f.is_ratio) OR SUM(f.denominator) <> 0
                       AS has_value,
                   COUNT(*) AS fact_count, %s AS fingerprint,
                   bool_or(f.month_to_date) AS month_to_date
              FROM %s f
             GROUP BY f.kpi_id, f.company_id, f.date
            """,
            value_from_sums_sql(
                SQL("MAX(f.factor)"),
                SQL("bool_and(f.is_ratio)"),
                SQL("SUM(f.numerator)"),
                SQL("SUM(f.denominator)"),
            ),
            CrmKpiTotal._fingerprint(SQL("f"), uniform=uniform),
            facts,
        )
