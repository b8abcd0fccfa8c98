"""The two queries of a declared KPI: the rows of its facts in a run, read
from cubes, and the records behind a fact (drill-down), read row by row.

A run sums every measure of a source and month expression in one pass over
the source into a cube per month, company and dimensions: a dozen KPIs over
a million leads cost one scan instead of a dozen. Sources that sum
themselves (customer months, lifecycle stages) build their own cube.
"""

import logging
import time

from odoo.tools import SQL

from .sql import DIMS, GROUP_KEYS, dims, sql_key

_logger = logging.getLogger(__name__)

# the row shape of every KPI query: month, company_id, *DIMS, num, den,
# res_model, res_id
NO_RECORD = SQL("NULL::varchar AS res_model, NULL::int AS res_id")


class Cubes:
    """Part of ``Run``: the cubes of a run and the queries of KPIs."""

    def _measure_sql(self, measure):
        """(source, month, num, den, where) of ``measure`` as SQL."""
        source = self.catalogue.sources[measure.source]
        month, num, den, where = measure.sql()
        if month is None:
            month = SQL.identifier(source.alias, "month")
        return source, month, num, den, where

    def build_cubes(self, kpis):
        """Sum the measures of ``kpis`` (declarations) into cubes: one per
        source and month expression, one per source that sums itself. From
        then on ``facts_query`` reads them."""
        sources = self.catalogue.sources
        for kpi in kpis:
            for measure in kpi.measures:
                source, month, num, den, where = self._measure_sql(measure)
                if source.cube:
                    self._own_cubes.setdefault(source.name, None)
                    continue
                key = (source.name, sql_key(month))
                cube = self._cubes.setdefault(key, {"month": month, "measures": {}})
                cube["measures"].setdefault(
                    (sql_key(num), sql_key(den), sql_key(where)), (num, den, where)
                )
        tables = []
        for number, ((name, _month), cube) in enumerate(self._cubes.items()):
            if "table" not in cube:
                cube["table"] = f"kpi_tmp_cube_{number}"
                self._build_cube(sources[name], cube)
            tables.append(cube["table"])
        for name, table in list(self._own_cubes.items()):
            if table is None:
                source = sources[name]
                self.need(*source.cube_needs)
                started = time.monotonic()
                table = self._own_cubes[name] = source.cube(self)
                _logger.debug(
                    "Strategic KPIs: cube of %s in %.2f s",
                    name,
                    time.monotonic() - started,
                )
            tables.append(table)
        # the dimension records the cubes refer to (see dimensions_alive)
        references = [
            SQL(
                "SELECT %s::text AS dim, %s AS id FROM %s WHERE %s IS NOT NULL",
                dim,
                SQL.identifier(dim),
                SQL.identifier(table),
                SQL.identifier(dim),
            )
            for table in tables
            for dim in DIMS
        ] or [SQL("SELECT NULL::text AS dim, NULL::int AS id WHERE FALSE")]
        self.cr.execute("DROP TABLE IF EXISTS kpi_tmp_dim_ref")
        self.cr.execute(
            SQL(
                "CREATE TEMP TABLE kpi_tmp_dim_ref AS %s",
                SQL(" UNION ").join(references),
            )
        )

    def _build_cube(self, source, cube):
        self.need(*source.needs)
        started = time.monotonic()
        measures = cube["measures"].values()
        columns = [
            SQL(
                "SUM(CASE WHEN %(w)s THEN %(n)s ELSE 0 END) AS %(nc)s, "
                "SUM(CASE WHEN %(w)s THEN %(d)s ELSE 0 END) AS %(dc)s",
                w=where,
                n=num,
                d=den,
                nc=SQL.identifier(f"n{position}"),
                dc=SQL.identifier(f"d{position}"),
            )
            for position, (num, den, where) in enumerate(measures)
        ]
        month = cube["month"]
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE %(table)s AS
                SELECT %(month)s AS month, %(alias)s.company_id, %(dims)s,
                       %(columns)s
                  FROM %(from)s
                 WHERE %(month)s >= %(first)s AND (%(any)s)
                 GROUP BY %(keys)s
                """,
                table=SQL.identifier(cube["table"]),
                keys=GROUP_KEYS,
                month=month,
                alias=SQL.identifier(source.alias),
                dims=dims(source.alias, source.dims),
                columns=SQL(", ").join(columns),
                first=self.month_from or "-infinity",
                any=SQL(" OR ").join(SQL("(%s)", where) for _n, _d, where in measures),
                **{"from": source.relation(self)},
            )
        )
        self.cr.execute(SQL("ANALYZE %s", SQL.identifier(cube["table"])))
        _logger.debug(
            "Strategic KPIs: cube of %s by %s with %s measures in %.2f s",
            source.name,
            month.code,
            len(columns),
            time.monotonic() - started,
        )

    def _cube_rows(self, measure):
        """The rows of ``measure`` read from its cube (one per month, company
        and dimensions), None when no cube holds it."""
        source, month, num, den, where = self._measure_sql(measure)
        if source.cube:
            table = self._own_cubes.get(source.name)
            if table is None:
                return None
            return SQL(
                """
                SELECT %(alias)s.month, %(alias)s.company_id, %(dims)s,
                       (%(num)s)::numeric AS num, (%(den)s)::numeric AS den,
                       %(no_record)s
                  FROM %(table)s %(alias)s
                 WHERE %(where)s
                """,
                alias=SQL.identifier(source.alias),
                dims=dims(source.alias),
                num=num,
                den=den,
                no_record=NO_RECORD,
                table=SQL.identifier(table),
                where=where,
            )
        cube = self._cubes.get((source.name, sql_key(month)))
        key = (sql_key(num), sql_key(den), sql_key(where))
        if not cube or "table" not in cube or key not in cube["measures"]:
            return None
        # a measure's columns are numbered in the order it was collected
        index = list(cube["measures"]).index(key)
        return SQL(
            """
            SELECT k.month, k.company_id, %(dims)s,
                   %(num)s::numeric AS num, %(den)s::numeric AS den, %(no_record)s
              FROM %(table)s k
            """,
            dims=dims("k"),
            num=SQL.identifier("k", f"n{index}"),
            den=SQL.identifier("k", f"d{index}"),
            no_record=NO_RECORD,
            table=SQL.identifier(cube["table"]),
        )

    def _record_rows(self, measure):
        """The rows of ``measure``, one per record of its source."""
        source, month, num, den, where = self._measure_sql(measure)
        self.need(*source.needs)
        return SQL(
            """
            SELECT %(month)s AS month, %(alias)s.company_id, %(dims)s,
                   (%(num)s)::numeric AS num, (%(den)s)::numeric AS den,
                   %(model)s::varchar AS res_model, %(res_id)s AS res_id
              FROM %(from)s
             WHERE %(where)s
            """,
            month=month,
            alias=SQL.identifier(source.alias),
            dims=dims(source.alias, source.dims),
            num=num,
            den=den,
            model=SQL.identifier(source.alias, source.res_model)
            if source.res_model
            else source.model,
            res_id=SQL.identifier(source.alias, source.res_id),
            where=where,
            **{"from": source.relation(self)},
        )

    def facts_query(self, kpi):
        """(rows, plain) of ``kpi`` in this run: its rows from the cubes
        (``build_cubes``), row by row for a measure no cube holds. ``plain``:
        the rows are one per month, company and dimensions already (a single
        measure read from its cube)."""
        parts = []
        plain = len(kpi.measures) == 1
        for measure in kpi.measures:
            rows = self._cube_rows(measure)
            if rows is None:
                plain = False
                rows = self._record_rows(measure)
            parts.append(rows)
        return self._adjusted(kpi, parts), plain

    def records_query(self, kpi):
        """The rows of ``kpi``, one per record and month: those whose ``num``
        is not 0 are the records behind its facts' numerators. (A KPI's
        ``adjust`` multiplies by a positive factor: it changes no ``num``
        to or from 0 and is left out.)"""
        return SQL(" UNION ALL ").join(
            SQL("(%s)", self._record_rows(measure)) for measure in kpi.measures
        )

    def _adjusted(self, kpi, parts):
        query = SQL(" UNION ALL ").join(SQL("(%s)", part) for part in parts)
        if kpi.adjust:
            query = kpi.adjust(self, query)
        return query

    @staticmethod
    def dimensions_alive(cr, tables):
        """Whether every dimension record the cubes refer to still exists.
        ``tables``: {dimension: table of its records}. A record deleted since
        the cubes were summed (by another transaction, or between the KPIs of
        a nightly run, which commits after each) makes the facts of cube reads
        go through the mapping of deleted references."""
        if not tables:
            return True
        cr.execute(
            SQL(
                "SELECT %s",
                SQL(" OR ").join(
                    SQL(
                        """EXISTS (SELECT 1 FROM kpi_tmp_dim_ref r
                                    WHERE r.dim = %s AND NOT EXISTS (
                                          SELECT 1 FROM %s t WHERE t.id = r.id))""",
                        dim,
                        SQL.identifier(table),
                    )
                    for dim, table in tables.items()
                ),
            )
        )
        return not cr.fetchone()[0]
