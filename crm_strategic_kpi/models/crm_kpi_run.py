"""The run: recomputing the facts of KPIs for months and companies under
one lock, writing only the months whose facts changed, with their totals."""

import logging
import time
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..engine import (
    DIMS,
    ENGINE_SETTINGS,
    LAST_RUN_PARAM,
    SCOPE_FORWARD,
    SCOPE_MONTH,
    Run,
    core_catalogue,
    planner,
)
from ..engine.rules import month_start, value_from_sums_sql
from ..engine.sql import set_local

_logger = logging.getLogger(__name__)

# Two recomputes never overlap: they take this PostgreSQL advisory lock.
RECOMPUTE_LOCK = 815_620_1907


class CrmKpiRun(models.AbstractModel):
    """Recomputes the facts (``crm.kpi.value``) and their monthly totals
    (``crm.kpi.total``) with the engine (``..engine``)."""

    _name = "crm.kpi.run"
    _description = "Strategic KPI Run"

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
    def _get_catalogue(self):
        """The sources and KPIs the engine computes (a new ``Catalogue`` per
        call). Bridges add theirs: ``catalogue = super()._get_catalogue()``,
        then ``catalogue.add_source(...)`` and ``catalogue.add_kpi(...)``."""
        return core_catalogue()

    def _new_engine_run(
        self, companies, month_to, month_from=None, history=False, users=None
    ):
        """A ``Run`` of the engine over ``companies`` with this catalogue."""
        return Run(
            self.env,
            self._get_catalogue(),
            companies,
            month_to,
            month_from=month_from,
            history=history,
            users=users,
        )

    def _run(self, companies, kpis, targets, month_to, done=(), on_progress=None):
        """Compute ``kpis`` for ``targets`` [(scope, company_id, month)]."""
        started = time.monotonic()
        self.env.flush_all()
        cr = self.env.cr
        engine = self._new_engine_run(
            companies,
            month_to,
            month_from=min((month for _s, _c, month in targets), default=None),
            history=True,
        )
        rows, kpi_seconds = {}, {}
        with engine:
            engine.prepare()
            self._create_run_tables(targets)
            declared = {kpi.code: kpi for kpi in engine.kpis()}
            kpis = kpis.filtered(lambda k: k.code not in done and k.code in declared)
            engine.build_cubes([declared[kpi.code] for kpi in kpis])
            prepared = time.monotonic()
            for kpi in kpis:
                kpi_started = time.monotonic()
                query, plain = engine.facts_query(declared[kpi.code])
                with cr.savepoint():
                    rows[kpi.code] = self._replace_facts(
                        kpi, declared[kpi.code].scope, query, plain
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
            cr.execute("DROP TABLE kpi_tmp_target, kpi_tmp_total")
        self.env.registry.clear_cache()
        self.env["crm.kpi.value"].invalidate_model()
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

    def _create_run_tables(self, targets):
        """The run's target months and the totals of the months a KPI
        rewrites (see ``_replace_facts``)."""
        cr = self.env.cr
        cr.execute("DROP TABLE IF EXISTS kpi_tmp_target, kpi_tmp_total")
        cr.execute(
            "CREATE TEMP TABLE kpi_tmp_target "
            "(scope text, company_id int, month date, PRIMARY KEY "
            "(scope, company_id, month))"
        )
        if targets:
            cr.execute(
                SQL(
                    "INSERT INTO kpi_tmp_target VALUES %s ON CONFLICT DO NOTHING",
                    SQL(", ").join(SQL("(%s, %s, %s)", *t) for t in targets),
                )
            )
        cr.execute("ANALYZE kpi_tmp_target")
        cr.execute(
            SQL(
                "CREATE TEMP TABLE kpi_tmp_total AS SELECT %s FROM crm_kpi_total "
                "WITH NO DATA",
                self.env["crm.kpi.total"]._total_columns(),
            )
        )

    def _replace_facts(self, kpi, scope, subquery, plain=False):
        """Replace the facts of ``kpi`` in the target months of ``scope`` by
        the rows of ``subquery``; return the number of facts they now have.
        ``plain``: the rows are already unique per month, company and
        dimensions (see ``Run.facts_query``).

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
        # a nightly run commits after each KPI: its settings go with it
        set_local(cr, ENGINE_SETTINGS)
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
        fields_ = self.env["crm.kpi.value"]._fields
        tables = {
            dim: self.env[fields_[dim].comodel_name]._table
            for dim in DIMS
            if fields_[dim].comodel_name in self.env
        }
        if plain and Run.dimensions_alive(cr, tables):
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
                    "month_to_date",
                ),
            )
        )  # fmt: skip
        # The planner cannot estimate computed months and groups: it would
        # sort hundreds of thousands of rows to group them and to join the
        # target months, where hashing them is cheaper.
        with planner(cr, enable_sort="off"):
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
                               (%(value)s)::numeric AS value,
                               NOT %(ratio)s OR a.den <> 0 AS has_value,
                               a.month = co.running_month AS month_to_date
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
                           AND ((f.fact_count, f.fingerprint,
                                 COALESCE(f.month_to_date, FALSE),
                                 o.kpi_id IS NULL
                                 OR (o.kpi_code, o.category, o.unit, o.factor,
                                     o.is_ratio)
                                    = (%(code)s, %(category)s, %(unit)s,
                                       %(factor)s::float8, %(ratio)s))
                                IS DISTINCT FROM (o.fact_count, o.fingerprint,
                                                  COALESCE(o.month_to_date, FALSE),
                                                  TRUE)
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
                    value=value_from_sums_sql(
                        kpi.factor, ratio, SQL("a.num"), SQL("a.den")
                    ),
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
