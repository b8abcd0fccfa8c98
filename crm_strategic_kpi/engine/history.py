"""The customer history kept between runs: purchases (won deals, orders or
invoices) dated before a cutoff month and the activity spells made of them.

A run keeps the deals before the second month before its last one (the
first month of the shortest recompute of recent months); a later run uses
them when it starts on or after that cutoff, at most ``HISTORY_MAX_AGE``
months after it. ``HISTORY_VERSION`` changes whenever what the tables hold
is computed differently: kept histories of another version are ignored.
"""

import json

from dateutil.relativedelta import relativedelta

from odoo.tools import SQL

HISTORY_MAX_AGE = 3
# A run of at most this many months (the nightly one) reads few records of
# the sources it filters by date; the history is kept for the shortest one.
RECENT_MONTHS = 3
# the state of a nightly run in progress (see crm.kpi.changed.day): the
# months it still has to compute keep the kept history from being read
RUN_STATE_PARAM = "crm_strategic_kpi.pending_run"
HISTORY_VERSION = 2
HISTORY_TABLES = (
    "crm_kpi_history_stamp",
    "crm_kpi_history_won",
    "crm_kpi_history_spell",
)
WON_COLUMNS = (
    "id",
    "res_model",
    "company_id",
    "customer_id",
    "team_id",
    "user_id",
    "closed_at",
    "closed_month",
    "revenue",
    "profit",
    "purchase",
    "deal_type",
    "campaign_id",
    "source_id",
    "medium_id",
    "rn",
    "prev_at",
)
SPELL_COLUMNS = (
    "company_id",
    "customer_id",
    "start_at",
    "end_at",
    "next_start",
    "next_end",
    "prev_end",
    "first_month",
    "last_month",
    "end_from",
    "continued",
)


def create_history_tables(cr):
    """(Re)create the tables of the kept customer history, empty. They are a
    cache the engine rebuilds from the CRM's data whenever it cannot trust
    them: unlogged (a crash empties them, stamps included, and the next run
    rebuilds them) and dropped with every update of the module (the next run
    computes from the data again)."""
    drop_history_tables(cr)
    cr.execute(
        """
        CREATE UNLOGGED TABLE crm_kpi_history_stamp (
            company_id int PRIMARY KEY, version int NOT NULL,
            cutoff date NOT NULL, tz text NOT NULL, churn_days int NOT NULL,
            margin numeric NOT NULL, revenue_source text NOT NULL);
        CREATE UNLOGGED TABLE crm_kpi_history_won (
            id int, res_model varchar, company_id int, customer_id int,
            team_id int, user_id int, closed_at timestamp, closed_month date,
            revenue numeric, profit numeric, purchase boolean, deal_type varchar,
            campaign_id int, source_id int, medium_id int, rn bigint,
            prev_at timestamp);
        CREATE UNLOGGED TABLE crm_kpi_history_spell (
            company_id int, customer_id int, start_at timestamp,
            end_at timestamp, next_start timestamp, next_end timestamp,
            prev_end timestamp, first_month date, last_month date,
            end_from date, continued boolean);
        """
    )


def drop_history_tables(cr):
    cr.execute(
        SQL(
            "DROP TABLE IF EXISTS %s",
            SQL(", ").join(SQL.identifier(table) for table in HISTORY_TABLES),
        )
    )


class KeptHistory:
    """Part of ``Run``: reading and keeping the customer history."""

    def _history_cutoff_of_run(self):
        """The cutoff month of the history a run keeps: the first month of
        the shortest run of recent months ending with its last month."""
        return self.month_to - relativedelta(months=RECENT_MONTHS - 1)

    def _history_tables_exist(self):
        self.cr.execute("SELECT to_regclass('crm_kpi_history_stamp') IS NOT NULL")
        return self.cr.fetchone()[0]

    def _kept_history(self):
        """Decide whether this run reads the customer history kept by an
        earlier run (sets ``history_cutoff``). It does when that history can
        be trusted for every company of the run:

        - it was kept by this version of the engine, with the timezone,
          churn period, margin and revenue source the company has now, at
          the same cutoff month for all;
        - the run starts on or after the cutoff, at most ``HISTORY_MAX_AGE``
          months after it;
        - no change before the cutoff month waits in the recompute queue or
          in the state of an interrupted nightly run.
          Every change of a lead or partner a won deal depends on queues the
          days of that deal (before and after the change). A change of a
          deal kept in the history thus queues a day before the cutoff, and
          the nightly run that consumes it starts before the cutoff: it
          reads every deal from the leads and keeps a new history.
        """
        if not self.history or not self.month_from or not self._timezones:
            return
        if not self._history_tables_exist():
            return
        self.cr.execute(
            SQL(
                """
                SELECT COUNT(*), MIN(h.cutoff), MAX(h.cutoff),
                       bool_and(h.version = %(version)s AND h.tz = co.tz
                                AND h.churn_days = co.churn_days
                                AND h.margin = co.margin
                                AND h.revenue_source = co.revenue_source)
                  FROM kpi_tmp_company co
                  JOIN crm_kpi_history_stamp h ON h.company_id = co.id
                """,
                version=HISTORY_VERSION,
            )
        )
        count, cutoff, last_cutoff, same = self.cr.fetchone()
        if (
            count != len(self._timezones)
            or not same
            or cutoff != last_cutoff
            or cutoff > self.month_from
            or cutoff < self.month_from - relativedelta(months=HISTORY_MAX_AGE)
        ):
            return
        # a queued UTC day may belong to the local month before it
        self.cr.execute(
            SQL(
                """SELECT EXISTS (SELECT 1 FROM crm_kpi_changed_day
                                   WHERE company_id = ANY(%s) AND day <= %s)""",
                list(self._timezones),
                cutoff,
            )
        )
        if self.cr.fetchone()[0]:
            return
        # a nightly run interrupted after it took the queue holds the changed
        # months in its state until it resumes
        self.cr.execute(
            "SELECT value FROM ir_config_parameter WHERE key = %s", (RUN_STATE_PARAM,)
        )
        row = self.cr.fetchone()
        state = json.loads(row[0]) if row and row[0] else None
        if state and any(
            company_id in self._timezones and month < cutoff.isoformat()
            for _scope, company_id, month in state["targets"]
        ):
            return
        self.history_cutoff = cutoff
        self.history_state = "read"

    def _keep_history(self):
        """Keep the won deals before this run's cutoff month and the spells
        made of them for later runs, replacing the kept history of the run's
        companies. Only a run that read every won deal from the leads keeps
        one."""
        if self.history is not True or self.history_cutoff or not self._timezones:
            return
        if not self._history_tables_exist():
            return
        companies = list(self._timezones)
        cutoff = self._history_cutoff_of_run()
        # histories of other (existing) companies stay
        self.cr.execute(
            SQL(
                """SELECT EXISTS (SELECT 1 FROM crm_kpi_history_stamp h
                                   JOIN res_company c ON c.id = h.company_id
                                  WHERE h.company_id <> ALL(%s))""",
                companies,
            )
        )
        if self.cr.fetchone()[0]:
            for table in HISTORY_TABLES:
                self.cr.execute(
                    SQL(
                        "DELETE FROM %s WHERE company_id = ANY(%s)",
                        SQL.identifier(table),
                        companies,
                    )
                )
        else:
            # the run's companies hold all of it (with deleted companies)
            self.cr.execute(
                SQL(
                    "TRUNCATE %s",
                    SQL(", ").join(SQL.identifier(table) for table in HISTORY_TABLES),
                )
            )
        columns = SQL(", ").join(SQL.identifier(c) for c in WON_COLUMNS)
        self.cr.execute(
            SQL(
                "INSERT INTO crm_kpi_history_won (%s) "
                "SELECT %s FROM kpi_tmp_won WHERE closed_month < %s",
                columns,
                columns,
                cutoff,
            )
        )
        # the spells of customers without a deal from the cutoff on are
        # those of the run; the others' are made of their earlier deals
        self.cr.execute(
            SQL(
                "INSERT INTO crm_kpi_history_spell (%s) %s",
                SQL(", ").join(SQL.identifier(c) for c in SPELL_COLUMNS),
                self._spells_around(SQL("kpi_tmp_spell"), cutoff, before=True),
            )
        )
        self.cr.execute(
            SQL(
                """
                INSERT INTO crm_kpi_history_stamp
                       (company_id, version, cutoff, tz, churn_days, margin,
                        revenue_source)
                SELECT id, %s, %s, tz, churn_days, margin, revenue_source
                  FROM kpi_tmp_company
                """,
                HISTORY_VERSION,
                cutoff,
            )
        )
        # the planner's estimates for the next run's joins (it may come in
        # the same transaction, before autovacuum analyses the new rows)
        self.cr.execute("ANALYZE crm_kpi_history_won, crm_kpi_history_spell")
        self.history_state = "kept"
