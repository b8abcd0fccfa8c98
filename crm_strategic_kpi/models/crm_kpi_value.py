import logging
from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Domain
from odoo.tools import SQL

from ..engine import DIMS, create_history_tables
from ..engine.rules import value_from_sums_sql
from .crm_kpi import CATEGORIES, UNITS

_logger = logging.getLogger(__name__)

# A drill-down into the facts of at most this many salespeople reads only
# their leads and customers.
DRILL_DOWN_USERS = 10


# What the monthly totals (crm.kpi.total) can answer for the facts: groupings
# and filters by what is constant within a KPI, company and month, and sums.
TOTAL_KEYS = frozenset(
    {
        "kpi_id",
        "kpi_code",
        "category",
        "unit",
        "factor",
        "is_ratio",
        "currency_id",
        "date",
        "company_id",
        "month_to_date",
    }
)
TOTAL_AGGREGATES = frozenset({"numerator:sum", "denominator:sum", "value:sum"})


class FactReference(fields.Many2one):
    """A many2one of the fact table without a database foreign key.

    Facts are a derived, rebuildable cache written in bulk: eleven foreign-key
    triggers per inserted row made up three quarters of a recompute. Integrity
    is kept by the ORM instead (``fact_references.py``), following the field's
    ``ondelete``: deleting a KPI or a company deletes its facts, deleting a
    dimension (team, salesperson, segment, campaign, source, medium, currency)
    empties that dimension in its facts.
    """

    def update_db_foreign_key(self, model, column):
        return


class CrmKpiFactMixin(models.AbstractModel):
    """What the facts and their monthly totals share: a group's value is the
    ratio of its sums, and references are kept by the ORM."""

    _name = "crm.kpi.fact.mixin"
    _description = "KPI figures"

    # What, when and whose
    kpi_id = FactReference(
        comodel_name="crm.kpi",
        string="KPI",
        required=True,
        readonly=True,
        ondelete="cascade",
    )
    kpi_code = fields.Char(string="KPI Code", readonly=True)
    category = fields.Selection(selection=CATEGORIES, readonly=True)
    unit = fields.Selection(selection=UNITS, readonly=True)
    date = fields.Date(string="Month", required=True, readonly=True)
    company_id = FactReference(
        comodel_name="res.company", required=True, readonly=True, ondelete="cascade"
    )
    currency_id = FactReference(comodel_name="res.currency", readonly=True)
    # Figures
    numerator = fields.Float(
        string="Numerator (Counted)",
        readonly=True,
        aggregator="sum",
        help="What the KPI counts or sums: deals, customers, revenue, scores.",
    )
    denominator = fields.Float(
        string="Denominator (Base)",
        readonly=True,
        aggregator="sum",
        help="What a ratio divides by (0 for counts and amounts).",
    )
    value = fields.Float(
        string="Figure (in the KPI's Unit)",
        readonly=True,
        aggregator="sum",
        digits=(16, 2),
        help="factor x numerator / denominator for ratios, factor x numerator for "
        "counts and amounts. In grouped views it is computed from the group's "
        "summed numerator and denominator, never as a sum or an average of rows.",
    )
    has_value = fields.Boolean(
        readonly=True,
        help="False when the denominator is 0: the value is then empty, not 0.",
    )
    factor = fields.Float(readonly=True, aggregator=None)
    is_ratio = fields.Boolean(readonly=True)
    month_to_date = fields.Boolean(
        readonly=True,
        help="The month was still running when the figure was computed: it "
        "counts what had happened by then.",
    )

    @api.model
    def _forget_references(self, field_name, ids, ondelete):
        """Delete the figures of deleted KPIs or companies (``cascade``), or
        empty a deleted dimension in them (``set null``)."""
        column = SQL.identifier(field_name)
        table = SQL.identifier(self._table)
        if ondelete == "cascade":
            query = SQL("DELETE FROM %s WHERE %s IN %s", table, column, tuple(ids))
        else:
            query = SQL(
                "UPDATE %s SET %s = NULL WHERE %s IN %s",
                table,
                column,
                column,
                tuple(ids),
            )
        self.env.cr.execute(query)
        self.invalidate_model([field_name])

    def _read_group_select(self, aggregate_spec, query):
        if aggregate_spec != "value:sum":
            return super()._read_group_select(aggregate_spec, query)
        # A group's value is the ratio of its sums; a group mixing several
        # KPIs has no meaningful value and stays empty. (MIN = MAX rather
        # than COUNT(DISTINCT): it lets PostgreSQL aggregate in parallel.)
        kpi = self._field_to_sql(self._table, "kpi_id", query)

        def column(name):
            return self._field_to_sql(self._table, name, query)

        return SQL(
            "CASE WHEN MIN(%(kpi)s) = MAX(%(kpi)s) THEN %(value)s END",
            kpi=kpi,
            value=value_from_sums_sql(
                SQL("MAX(%s)", column("factor")),
                SQL("bool_and(%s)", column("is_ratio")),
                SQL("SUM(%s)", column("numerator")),
                SQL("SUM(%s)", column("denominator")),
            ),
        )


class CrmKpiValue(models.Model):
    """One KPI fact: numerator and denominator of a KPI for one month, company
    and combination of dimensions. Written only by the engine."""

    _name = "crm.kpi.value"
    _inherit = ["crm.kpi.fact.mixin"]
    _description = "KPI Fact"
    _order = "date desc, kpi_id, id"
    _rec_name = "kpi_id"
    # rows are replaced in bulk by the engine, never edited
    _log_access = False

    # Dimensions
    team_id = FactReference(comodel_name="crm.team", string="Sales Team", readonly=True)
    user_id = FactReference(
        comodel_name="res.users", string="Salesperson", readonly=True
    )
    segment_id = FactReference(comodel_name="crm.kpi.segment", readonly=True)
    campaign_id = FactReference(comodel_name="utm.campaign", readonly=True)
    source_id = FactReference(comodel_name="utm.source", readonly=True)
    medium_id = FactReference(comodel_name="utm.medium", readonly=True)

    _kpi_company_date_idx = models.Index("(kpi_id, company_id, date)")

    def init(self):
        # the customer history a run keeps for the next ones: computed anew
        # after every update of the module (the engine may have changed)
        create_history_tables(self.env.cr)

    # ------------------------------------------------------------ ORM writes
    # The engine writes facts in SQL, with their totals. Facts changed through
    # the ORM (by an administrator's script) get their totals re-summed.
    @api.model_create_multi
    def create(self, vals_list):
        facts = super().create(vals_list)
        facts._refresh_totals(facts._total_keys())
        return facts

    def write(self, vals):
        keys = self._total_keys()
        result = super().write(vals)
        self._refresh_totals(keys | self._total_keys())
        return result

    def unlink(self):
        keys = self._total_keys()
        result = super().unlink()
        self._refresh_totals(keys)
        return result

    def _total_keys(self):
        if not self.ids:
            return set()
        self.flush_recordset(["kpi_id", "company_id", "date"])
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT kpi_id, company_id, date FROM crm_kpi_value "
                "WHERE id IN %s",
                tuple(self.ids),
            )
        )
        return set(self.env.cr.fetchall())

    def _refresh_totals(self, keys):
        if not keys:
            return
        self.env.flush_all()
        Total = self.env["crm.kpi.total"]
        # per KPI, the index on (kpi_id, company_id, date) finds the months;
        # the list of keys then keeps the exact combinations
        by_kpi = defaultdict(list)
        for kpi_id, company_id, month in keys:
            by_kpi[kpi_id].append((company_id, month))
        matching = SQL(
            "(%s) AND (kpi_id, company_id, date) IN (%s)",
            SQL(" OR ").join(
                SQL(
                    "(kpi_id = %s AND company_id = ANY(%s) AND date = ANY(%s::date[]))",
                    kpi_id,
                    sorted({c for c, _m in pairs}),
                    sorted({m for _c, m in pairs}),
                )
                for kpi_id, pairs in sorted(by_kpi.items())
            ),
            SQL(", ").join(SQL("(%s, %s, %s::date)", *key) for key in sorted(keys)),
        )
        self.env.cr.execute(SQL("DELETE FROM crm_kpi_total WHERE %s", matching))
        self.env.cr.execute(
            SQL(
                "INSERT INTO crm_kpi_total (%s) %s",
                Total._total_columns(),
                Total._totals_of(
                    SQL("(SELECT * FROM crm_kpi_value WHERE %s)", matching)
                ),
            )
        )
        Total.invalidate_model()

    # ------------------------------------------------------------ read group
    def _read_group(
        self,
        domain,
        groupby=(),
        aggregates=(),
        having=(),
        offset=0,
        limit=None,
        order=None,
    ):
        """Groups by KPI, company and period only read the monthly totals
        (``crm.kpi.total``): the same sums from a few thousand rows."""
        spec = self._totals_spec(domain, groupby, aggregates, having, order)
        if spec is None:
            return super()._read_group(
                domain, groupby, aggregates, having, offset, limit, order
            )
        self.browse().check_access("read")
        rows = self.env["crm.kpi.total"]._read_group(
            domain, groupby, spec[0], (), offset, limit, spec[1]
        )
        # a count is 0, not empty, when nothing matches
        counts = [len(groupby) + i for i, a in enumerate(aggregates) if a == "__count"]
        if counts:
            rows = [
                tuple(v or 0 if i in counts else v for i, v in enumerate(row))
                for row in rows
            ]
        return rows

    def _totals_spec(self, domain, groupby, aggregates, having, order):
        """(aggregates, order) for reading the totals instead of the facts,
        or None when the totals could give another result.

        The totals serve sums and counts grouped, filtered and ordered by
        what is constant within a KPI, company and month (not by a dimension,
        nor by a figure: a filter on the numerator keeps other facts than
        totals), and only for users whose record rules on the totals are
        those on the facts and look at the company alone (salespeople who
        see only their own teams' figures read the facts)."""
        if having or self.env.context.get("kpi_facts_only"):
            return None
        count = "fact_count:sum"
        sums = TOTAL_AGGREGATES | {count}

        def constant(name):
            return name.split(".")[0].split(":")[0] in TOTAL_KEYS

        def on_totals(spec):
            # __count of the facts is the sum of the totals' fact counts
            return (
                count + spec[len("__count") :] if spec.startswith("__count") else spec
            )

        aggregates = [on_totals(spec) for spec in aggregates]
        terms = [
            on_totals(term.strip()) for term in (order or "").split(",") if term.strip()
        ]
        if not (
            all(spec in sums for spec in aggregates)
            and all(constant(spec) for spec in groupby)
            and all(
                constant(cond.field_expr) for cond in Domain(domain).iter_conditions()
            )
            and all(
                constant(term.split()[0]) or term.split()[0] in sums for term in terms
            )
        ):
            return None
        order = ", ".join(terms) or None
        if not self.env.su:
            Total = self.env["crm.kpi.total"]
            if not Total.has_access("read"):
                return None
            rules = self.env["ir.rule"]
            facts_rule = rules._compute_domain(self._name, "read")
            if any(
                cond.field_expr != "company_id" for cond in facts_rule.iter_conditions()
            ) or str(facts_rule) != str(rules._compute_domain(Total._name, "read")):
                return None
        return aggregates, order

    # ------------------------------------------------------------ actions
    def action_open_records(self):
        """Open the records behind the numerator of these facts."""
        records = self._get_numerator_records()
        if not records:
            raise UserError(
                self.env._("No record stands behind the numerator of this figure.")
            )
        model, ids = max(records.items(), key=lambda item: len(item[1]))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Records behind %(kpi)s", kpi=self[:1].kpi_id.name),
            "res_model": model,
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": [("id", "in", sorted(ids))],
            "context": {"active_test": False},
        }

    # ------------------------------------------------------------ drill-down
    def _get_numerator_records(self):
        """{model: set(ids)} of the records counted in these facts'
        numerators: the rows of each KPI's declaration (see
        ``Run.records_query``) of the facts' months, companies and
        dimensions, one query per KPI, from the records of the facts'
        months and salespeople only."""
        if not self:
            return {}
        # the facts' own rules decide what may be opened; only then is the
        # engine (which reads every source table) run as superuser
        self.check_access("read")
        facts = self.sudo()
        dates = facts.mapped("date")
        users = {fact.user_id.id or None for fact in facts}
        # the leads and customers of the facts' salespeople when they are
        # few; else all, with the customer history kept by the last run
        engine = self.env["crm.kpi.run"]._new_engine_run(
            facts.company_id,
            max(dates),
            month_from=min(dates),
            history="read" if len(users) > DRILL_DOWN_USERS else False,
            users=users if len(users) <= DRILL_DOWN_USERS else None,
        )
        with engine:
            return facts._get_numerator_records_in(engine)

    def _get_numerator_records_in(self, engine):
        """{model: set(ids)} of the records counted in these facts'
        numerators, from the tables of ``engine`` (a ``Run`` entered)."""
        found = {}
        cr = self.env.cr
        declared = engine.catalogue.kpis
        for code, group in self.grouped("kpi_code").items():
            if code not in declared:
                continue
            keys = SQL(" OR ").join(
                SQL(
                    "(q.month = %s AND q.company_id = %s AND %s)",
                    fact.date,
                    fact.company_id.id,
                    SQL(" AND ").join(
                        SQL(
                            "q.%s IS NOT DISTINCT FROM %s",
                            SQL.identifier(dim),
                            fact[dim].id or None,
                        )
                        for dim in DIMS
                    ),
                )
                for fact in group
            )
            cr.execute(
                SQL(
                    """
                    SELECT DISTINCT q.res_model, q.res_id
                      FROM (%(rows)s) q
                     WHERE q.month = ANY(%(months)s)
                       AND q.company_id = ANY(%(companies)s)
                       AND q.num <> 0 AND q.res_id IS NOT NULL AND (%(keys)s)
                    """,
                    rows=engine.records_query(declared[code]),
                    months=sorted(set(group.mapped("date"))),
                    companies=group.company_id.ids,
                    keys=keys,
                )
            )
            for model, res_id in cr.fetchall():
                found.setdefault(model, set()).add(res_id)
        return found
