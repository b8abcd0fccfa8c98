import logging
import time
from collections import defaultdict
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain
from odoo.tools import SQL

from .crm_kpi import CATEGORIES, UNITS
from .kpi_engine import (
    DIMS,
    LAST_RUN_PARAM,
    SCOPE_FORWARD,
    SCOPE_MONTH,
    KpiEngine,
    create_history_tables,
)
from .kpi_rules import month_start

_logger = logging.getLogger(__name__)

# Two recomputes never overlap: they take this PostgreSQL advisory lock.
RECOMPUTE_LOCK = 815_620_1907


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
    numerator = fields.Float(readonly=True, aggregator="sum")
    denominator = fields.Float(readonly=True, aggregator="sum")
    value = fields.Float(
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
        return SQL(
            """CASE WHEN MIN(%(kpi)s) = MAX(%(kpi)s) THEN
                   CASE WHEN bool_and(%(ratio)s)
                        THEN MAX(%(factor)s) * SUM(%(num)s) / NULLIF(SUM(%(den)s), 0)
                        ELSE MAX(%(factor)s) * SUM(%(num)s) END
               END""",
            kpi=kpi,
            ratio=self._field_to_sql(self._table, "is_ratio", query),
            factor=self._field_to_sql(self._table, "factor", query),
            num=self._field_to_sql(self._table, "numerator", query),
            den=self._field_to_sql(self._table, "denominator", query),
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

    @api.model
    def action_recompute_all(self):
        summary = self.recompute()
        total = sum(summary["rows"].values())
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Strategic KPIs recomputed"),
                "message": self.env._(
                    "%(rows)s figures of %(kpis)s KPIs in %(seconds)s s.",
                    rows=total,
                    kpis=len(summary["rows"]),
                    seconds=round(summary["seconds"], 1),
                ),
                "type": "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    # ------------------------------------------------------------ recompute
    @api.model
    def recompute(self, date_from=None, date_to=None, kpi_codes=None, company_ids=None):
        """Recompute the facts of the given months, KPIs and companies.

        Each KPI's facts of each company are replaced atomically (inside a
        savepoint): an error leaves the previous figures of that KPI. Returns
        ``{"rows": {code: facts of the computed months}, "seconds": float}``.
        """
        if not (
            self.env.su
            or self.env.user.has_group("crm_strategic_kpi.group_kpi_manager")
        ):
            raise AccessError(
                self.env._("Only KPI managers can recompute the strategic KPIs.")
            )
        self = self.sudo()
        companies = self._get_recompute_companies(company_ids)
        date_to = month_start(fields.Date.to_date(date_to) or fields.Date.today())
        date_from = fields.Date.to_date(date_from)
        if date_from and date_from > date_to:
            raise UserError(
                self.env._(
                    "The first month (%(start)s) lies after the last one (%(end)s).",
                    start=date_from,
                    end=date_to,
                )
            )
        kpis = self._get_recompute_kpis(kpi_codes)
        if not self._take_recompute_lock():
            raise UserError(
                self.env._(
                    "The strategic KPIs are being recomputed right now. "
                    "Try again when that run has finished."
                )
            )
        start = date_from and month_start(date_from)
        targets = []
        for company in companies:
            first = start or self._first_data_month(company) or date_to
            targets += [
                (scope, company.id, month)
                for month in self._month_range(first, date_to)
                for scope in (SCOPE_MONTH, SCOPE_FORWARD)
            ]
        return self._run(companies, kpis, targets, date_to)

    def _get_recompute_companies(self, company_ids):
        if company_ids:
            return self.env["res.company"].sudo().browse(company_ids).exists()
        # every company: a handful of rows
        return self.env["res.company"].sudo().search([])  # pylint: disable=no-search-all

    def _get_recompute_kpis(self, kpi_codes):
        if kpi_codes:
            kpis = self.env["crm.kpi"].sudo().search([("code", "in", list(kpi_codes))])
        else:
            # the active catalogue: a few dozen rows
            kpis = self.env["crm.kpi"].sudo().search([])  # pylint: disable=no-search-all
        unknown = set(kpi_codes or ()) - set(kpis.mapped("code"))
        if unknown:
            raise UserError(
                self.env._(
                    "Unknown or inactive KPI codes: %(codes)s.",
                    codes=", ".join(sorted(unknown)),
                )
            )
        return kpis

    @api.model
    def _month_range(self, first, last):
        months = []
        month = month_start(first)
        while month <= last:
            months.append(month)
            month += relativedelta(months=1)
        return months

    def _first_data_month(self, company):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT MIN(d) FROM (
                    SELECT MIN(l.create_date)::date AS d FROM crm_lead l
                      LEFT JOIN crm_team t ON t.id = l.team_id
                     WHERE COALESCE(l.company_id, t.company_id, %(main)s) = %(co)s
                    UNION ALL
                    SELECT MIN(date) FROM crm_kpi_feedback WHERE company_id = %(co)s
                    UNION ALL
                    SELECT MIN(date) FROM crm_kpi_cost WHERE company_id = %(co)s
                ) q
                """,
                main=self.env.ref("base.main_company").id,
                co=company.id,
            )
        )
        first = self.env.cr.fetchone()[0]
        # Local months may start up to a day before the UTC date.
        return first and month_start(first - timedelta(days=1))

    @api.model
    def _get_kpi_queries(self, engine):
        """code -> (scope, builder) of every computable KPI; extension point."""
        return engine.queries()

    def _run(self, companies, kpis, targets, month_to, done=(), on_progress=None):
        """Compute ``kpis`` for ``targets`` [(scope, company_id, month)]."""
        started = time.monotonic()
        self.env.flush_all()
        engine = KpiEngine(
            self.env,
            companies,
            month_to,
            month_from=min((month for _s, _c, month in targets), default=None),
            history=True,
        )
        # the customer KPIs of a run read the customer cube, not the basis
        engine.prepare(basis=False)
        self.env.cr.execute(
            "CREATE TEMP TABLE kpi_tmp_target "
            "(scope text, company_id int, month date, PRIMARY KEY "
            "(scope, company_id, month))"
        )
        if targets:
            self.env.cr.execute(
                SQL(
                    "INSERT INTO kpi_tmp_target VALUES %s ON CONFLICT DO NOTHING",
                    SQL(", ").join(SQL("(%s, %s, %s)", *t) for t in targets),
                )
            )
        self.env.cr.execute("ANALYZE kpi_tmp_target")
        # the totals of the months a KPI rewrites (see _replace_facts)
        self.env.cr.execute(
            SQL(
                "CREATE TEMP TABLE kpi_tmp_total AS SELECT %s FROM crm_kpi_total "
                "WITH NO DATA",
                self.env["crm.kpi.total"]._total_columns(),
            )
        )
        queries = self._get_kpi_queries(engine)
        kpis = kpis.filtered(lambda k: k.code not in done and k.code in queries)
        engine.build_cubes(queries[kpi.code][1] for kpi in kpis)
        rows, kpi_seconds = {}, {}
        prepared = time.monotonic()
        for kpi in kpis:
            scope, builder = queries[kpi.code]
            kpi_started = time.monotonic()
            subquery = builder()
            with self.env.cr.savepoint():
                rows[kpi.code] = self._replace_facts(
                    kpi, scope, subquery, engine.is_cube_read(subquery)
                )
            kpi_seconds[kpi.code] = time.monotonic() - kpi_started
            _logger.debug(
                "Strategic KPIs: %s: %s rows in %.2f s",
                kpi.code,
                rows[kpi.code],
                kpi_seconds[kpi.code],
            )
            if on_progress:
                on_progress(kpi.code)
        history = engine.history_state
        engine.drop()
        self.env.registry.clear_cache()
        self.invalidate_model()
        self.env["crm.kpi.total"].invalidate_model()
        seconds = time.monotonic() - started
        _logger.info(
            "Strategic KPIs: %s rows for %s KPIs in %.1f s",
            sum(rows.values()),
            len(rows),
            seconds,
        )
        self.env["ir.config_parameter"].sudo().set_param(
            LAST_RUN_PARAM, fields.Datetime.to_string(fields.Datetime.now())
        )
        return {
            "rows": rows,
            "seconds": seconds,
            "prepare_seconds": prepared - started,
            # whether the run read the customer history an earlier run kept
            # ("read") or kept its own ("kept")
            "history": history,
            "kpi_seconds": kpi_seconds,
        }

    def _replace_facts(self, kpi, scope, subquery, cube_read=False):
        """Replace the facts of ``kpi`` in the target months of ``scope`` by
        the rows of ``subquery``; return the number of facts they now have.
        ``cube_read``: the rows are already unique per month, company and
        dimensions (see ``KpiEngine.is_cube_read``).

        Only the months whose rows changed are written. The monthly total
        keeps a fingerprint of its month's facts (see
        ``crm.kpi.total._fingerprint``); a month whose computed rows have the
        same fingerprint and count, for an unchanged KPI definition, keeps
        its facts as they are. Past months rarely change, so a run over many
        months writes a fraction of its rows, and unchanged facts keep their
        ids. The other months' facts are deleted and inserted anew, with
        their totals summed from the same rows, in the caller's savepoint."""
        cr = self.env.cr
        Total = self.env["crm.kpi.total"]
        KpiEngine.tune(cr)
        cr.execute("TRUNCATE kpi_tmp_total")
        cr.execute(
            SQL(
                "SELECT MIN(month), MAX(month) FROM kpi_tmp_target WHERE scope = %s",
                scope,
            )
        )
        bounds = cr.fetchone()
        if bounds[0] is None:
            return 0
        # Rows of a cube are unique per month, company and dimensions: while
        # every dimension record the cubes refer to still exists, they are
        # taken as they are. Other rows are summed per month, company and
        # existing dimension record: a dimension deleted since the run
        # prepared its tables is left empty (there are no foreign keys), and
        # mapped before grouping, so that a computed row is unique.
        tables = {
            dim: self.env[self._fields[dim].comodel_name]._table
            for dim in DIMS
            if self._fields[dim].comodel_name in self.env
        }
        if cube_read and KpiEngine.dimensions_alive(cr, tables):
            dims = [SQL.identifier("q", dim) for dim in DIMS]
            joins = grouping = SQL()
            num, den = SQL("q.num"), SQL("q.den")
        else:
            dims = [
                SQL("%s.id", SQL.identifier(f"live_{dim}"))
                if dim in tables
                else SQL.identifier("q", dim)
                for dim in DIMS
            ]
            joins = SQL(" ").join(
                SQL(
                    "LEFT JOIN %s %s ON %s.id = q.%s",
                    SQL.identifier(table),
                    SQL.identifier(f"live_{dim}"),
                    SQL.identifier(f"live_{dim}"),
                    SQL.identifier(dim),
                )
                for dim, table in tables.items()
            )
            grouping = SQL("GROUP BY q.month, q.company_id, %s", SQL(", ").join(dims))
            num, den = SQL("SUM(q.num)"), SQL("SUM(q.den)")
        source = SQL(
            """(SELECT q.month, q.company_id, %(dims)s, %(num)s AS num, %(den)s AS den
                  FROM (%(subquery)s) q
                  %(joins)s
                 WHERE q.month BETWEEN %(first)s AND %(last)s
                 %(grouping)s)""",
            dims=SQL(", ").join(
                SQL("%s AS %s", expr, SQL.identifier(dim))
                for expr, dim in zip(dims, DIMS, strict=True)
            ),
            num=num,
            den=den,
            subquery=subquery,
            joins=joins,
            first=bounds[0],
            last=bounds[1],
            grouping=grouping,
        )
        ratio = kpi.is_ratio
        columns = SQL(", ").join(
            map(
                SQL.identifier,
                (
                    "kpi_id", "kpi_code", "category", "unit", "factor", "is_ratio",
                    "currency_id", "date", "company_id", *DIMS,
                    "numerator", "denominator", "value", "has_value",
                ),
            )
        )  # fmt: skip
        # The planner cannot estimate computed months and groups: it would
        # sort hundreds of thousands of rows to group them and to join the
        # target months, where hashing them is cheaper.
        cr.execute("SET LOCAL enable_sort = off")
        # Aggregate first, then keep the target months: joining the targets
        # row by row misleads the planner (it cannot estimate the join of
        # computed months) into nested loops and sorts on disk. ``rows`` has
        # the column types of the table: the fingerprints hash by type.
        cr.execute(
            SQL(
                """
                WITH rows AS MATERIALIZED (
                    SELECT %(kpi)s AS kpi_id, %(code)s::varchar AS kpi_code,
                           %(category)s::varchar AS category,
                           %(unit)s::varchar AS unit, %(factor)s::float8 AS factor,
                           %(ratio)s AS is_ratio, %(currency)s AS currency_id,
                           a.month AS date, a.company_id, %(a_dims)s,
                           a.num::float8 AS numerator, a.den::float8 AS denominator,
                           (CASE WHEN %(ratio)s
                                 THEN %(factor)s * a.num / NULLIF(a.den, 0)
                                 ELSE %(factor)s * a.num END)::numeric AS value,
                           NOT %(ratio)s OR a.den <> 0 AS has_value
                      FROM %(source)s a
                      JOIN kpi_tmp_target t
                        ON t.scope = %(scope)s AND t.company_id = a.company_id
                       AND t.month = a.month
                      JOIN kpi_tmp_company co ON co.id = a.company_id
                     WHERE a.num <> 0 OR a.den <> 0
                ), fresh AS MATERIALIZED (
                    %(totals)s
                ), changed AS MATERIALIZED (
                    SELECT t.company_id, t.month
                      FROM kpi_tmp_target t
                      LEFT JOIN fresh f
                        ON f.company_id = t.company_id AND f.date = t.month
                      LEFT JOIN crm_kpi_total o
                        ON o.kpi_id = %(kpi)s AND o.company_id = t.company_id
                       AND o.date = t.month
                     WHERE t.scope = %(scope)s
                       AND ((f.fact_count, f.fingerprint, o.kpi_id IS NULL
                             OR (o.kpi_code, o.category, o.unit, o.factor,
                                 o.is_ratio)
                                = (%(code)s, %(category)s, %(unit)s,
                                   %(factor)s::float8, %(ratio)s))
                            IS DISTINCT FROM (o.fact_count, o.fingerprint, TRUE)
                            -- facts without their total (written by hand):
                            -- looked up only for months without a total
                            OR (o.kpi_id IS NULL AND f.date IS NULL
                                AND EXISTS (
                                    SELECT 1 FROM crm_kpi_value v
                                     WHERE v.kpi_id = %(kpi)s
                                       AND v.company_id = t.company_id
                                       AND v.date = t.month)))
                ), stale AS (
                    DELETE FROM crm_kpi_value v USING changed c
                     WHERE v.kpi_id = %(kpi)s AND v.company_id = c.company_id
                       AND v.date = c.month
                ), added AS (
                    INSERT INTO crm_kpi_value (%(columns)s)
                    SELECT r.* FROM rows r
                      JOIN changed c
                        ON c.company_id = r.company_id AND c.month = r.date
                ), totals AS (
                    INSERT INTO kpi_tmp_total
                    SELECT f.* FROM fresh f
                      JOIN changed c
                        ON c.company_id = f.company_id AND c.month = f.date
                )
                SELECT (SELECT COUNT(*) FROM rows),
                       array_agg(company_id), array_agg(month)
                  FROM changed
                """,
                columns=columns,
                totals=Total._totals_of(SQL("rows"), uniform=True),
                source=source,
                kpi=kpi.id,
                code=kpi.code,
                category=kpi.category,
                unit=kpi.unit,
                factor=kpi.factor,
                ratio=ratio,
                currency=SQL("co.currency_id")
                if kpi.unit == "currency"
                else SQL("NULL::int"),
                a_dims=SQL(", ").join(SQL.identifier("a", d) for d in DIMS),
                scope=scope,
            )
        )
        facts, company_ids, months = cr.fetchone()
        cr.execute("RESET enable_sort")
        _logger.debug(
            "Strategic KPIs: %s: %s months rewritten", kpi.code, len(months or ())
        )
        if company_ids:
            # the totals of the rewritten months, summed with their rows
            cr.execute(
                SQL(
                    """
                    DELETE FROM crm_kpi_total o
                     USING unnest(%s::int[], %s::date[]) c(company_id, month)
                     WHERE o.kpi_id = %s AND o.company_id = c.company_id
                       AND o.date = c.month;
                    INSERT INTO crm_kpi_total (%s)
                    SELECT %s FROM kpi_tmp_total
                    """,
                    company_ids,
                    months,
                    kpi.id,
                    Total._total_columns(),
                    Total._total_columns(),
                )
            )
            Total.invalidate_model()
        return facts

    # ------------------------------------------------------------ locking
    def _take_recompute_lock(self, wait=False):
        """Take the transaction-level lock that serialises recomputes.

        Without ``wait``, return False when another run holds it."""
        cr = self.env.cr
        if wait:
            cr.execute(SQL("SELECT pg_advisory_xact_lock(%s)", RECOMPUTE_LOCK))
            return True
        cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s)", RECOMPUTE_LOCK))
        return cr.fetchone()[0]

    # ------------------------------------------------------------ drill-down
    def _get_numerator_records(self):
        """{model: set(ids)} of the records counted in these facts'
        numerators."""
        if not self:
            return {}
        # the facts' own rules decide what may be opened; only then is the
        # engine (which reads every source table) run as superuser
        self.check_access("read")
        facts = self.sudo()
        companies = facts.company_id
        engine = KpiEngine(
            self.env,
            companies,
            max(facts.mapped("date")),
            month_from=min(facts.mapped("date")),
        )
        engine.prepare()
        queries = self._get_kpi_queries(engine)
        found = {}
        cr = self.env.cr
        for fact in facts:
            if fact.kpi_code not in queries:
                continue
            _scope, builder = queries[fact.kpi_code]
            conditions = [
                SQL(
                    "q.%s IS NOT DISTINCT FROM %s",
                    SQL.identifier(dim),
                    fact[dim].id or None,
                )
                for dim in DIMS
            ]
            cr.execute(
                SQL(
                    """
                    SELECT DISTINCT q.res_model, q.res_id FROM (%(sub)s) q
                     WHERE q.month = %(month)s AND q.company_id = %(company)s
                       AND q.num <> 0 AND q.res_model IS NOT NULL AND %(dims)s
                    """,
                    sub=builder(),
                    month=fact.date,
                    company=fact.company_id.id,
                    dims=SQL(" AND ").join(conditions),
                )
            )
            for model, res_id in cr.fetchall():
                found.setdefault(model, set()).add(res_id)
        engine.drop()
        return found
