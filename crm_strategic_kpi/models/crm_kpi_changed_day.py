import json
import logging
from datetime import datetime, timedelta
from datetime import time as dtime

import pytz

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..engine import LAST_RUN_PARAM, RUN_STATE_PARAM, SCOPE_FORWARD, SCOPE_MONTH
from ..engine.rules import month_start

_logger = logging.getLogger(__name__)

# How often the scheduled refresh runs: setting -> (interval_number, type)
REFRESH_INTERVALS = {
    "nightly": (1, "days"),
    "hourly": (1, "hours"),
    "quarter_hour": (15, "minutes"),
}
REFRESH_PARAM = "crm_strategic_kpi.refresh_interval"
DEFAULT_REFRESH = "hourly"


class CrmKpiChangedDay(models.Model):
    """Days whose figures changed since the last successful recompute.

    Rows are written by the ORM hooks of every model a KPI reads (leads,
    partners, feedback, costs, tickets) and consumed by the nightly incremental
    recompute in the same transaction that stores the new figures. Days are UTC
    days; the engine widens them by one day on each side before taking the
    month in the company's timezone.

    A day already queued is updated, not skipped: the update locks its row
    until the change that queued it commits, so a run taking the queue at
    that moment waits for it (or, when the change committed after the run's
    snapshot, fails with a serialization error and leaves the queue to its
    next attempt) instead of consuming the day without seeing the change.
    """

    _name = "crm.kpi.changed.day"
    _description = "KPI Recompute Queue"
    _log_access = False

    company_id = fields.Many2one(
        comodel_name="res.company", required=True, ondelete="cascade"
    )
    day = fields.Date(required=True)

    _company_day_unique = models.Constraint(
        "UNIQUE(company_id, day)", "A day is queued once per company."
    )

    @api.model
    def _mark(self, company_days):
        """Queue (company_id, date or datetime) pairs."""
        rows = {
            (company_id, fields.Date.to_date(day))
            for company_id, day in company_days
            if company_id and day
        }
        if not rows:
            return
        self.env.cr.execute(
            SQL(
                "INSERT INTO crm_kpi_changed_day (company_id, day) VALUES %s "
                "ON CONFLICT (company_id, day) DO UPDATE SET day = EXCLUDED.day",
                SQL(", ").join(SQL("(%s, %s)", c, d) for c, d in sorted(rows)),
            )
        )

    @api.model
    def _mark_query(self, query):
        """Queue the (company_id, day) rows that ``query`` (an SQL) returns."""
        self.env.cr.execute(
            SQL(
                "INSERT INTO crm_kpi_changed_day (company_id, day) "
                "SELECT DISTINCT q.company_id, q.day::date FROM (%s) q "
                "WHERE q.company_id IS NOT NULL AND q.day IS NOT NULL "
                "ON CONFLICT (company_id, day) DO UPDATE SET day = EXCLUDED.day",
                query,
            )
        )

    # ------------------------------------------------------------ the nightly run
    @api.model
    def _schedule_nightly_run(self):
        """Plan the nightly recompute for 02:00 in the main company's timezone
        (cron times are UTC)."""
        cron = self.env.ref(
            "crm_strategic_kpi.ir_cron_recompute_kpis", raise_if_not_found=False
        )
        if not cron:
            return
        tz = pytz.timezone(self.env.ref("base.main_company")._get_kpi_timezone())
        local_now = pytz.utc.localize(fields.Datetime.now()).astimezone(tz)
        day = local_now.date()
        if local_now.hour >= 2:
            day += timedelta(days=1)
        local_next = tz.localize(datetime.combine(day, dtime(2, 0)))
        cron.nextcall = local_next.astimezone(pytz.utc).replace(tzinfo=None)

    @api.model
    def _cron_recompute(self):
        """The nightly run: personal data past their retention period
        anonymised, segments and customer figures (they are dimensions and
        sources of the KPIs), then the KPIs."""
        self.env["crm.kpi.privacy"].sudo()._apply_retention()
        self.env["res.partner"].sudo()._cron_refresh_customers()
        if self.sudo()._run_incremental(commit=True) is not None:
            self.env["crm.kpi.goal"].sudo()._cron_update_goals()

    @api.model
    def _run_incremental(self, commit=False):
        """Recompute the months touched since the last successful run, plus
        the current month. With ``commit``, every KPI is committed on its own
        through ``ir.cron._commit_progress`` and a run interrupted midway
        resumes with the KPIs it had not finished."""
        Runner = self.env["crm.kpi.run"].sudo()
        if not Runner._take_recompute_lock():
            _logger.warning(
                "Strategic KPIs: nightly recompute skipped, another recompute "
                "holds the lock"
            )
            return None
        params = self.env["ir.config_parameter"].sudo()
        state = json.loads(params.get_param(RUN_STATE_PARAM) or "null")
        today = fields.Date.today()
        if not state:
            state = self._take_queue(month_start(today))
            params.set_param(RUN_STATE_PARAM, json.dumps(state))
            if commit:
                self.env["ir.cron"]._commit_progress(remaining=len(state["codes"]))
                Runner._take_recompute_lock(wait=True)
        companies = self.env["res.company"].browse(state["companies"]).exists()
        kpis = self.env["crm.kpi"].search([("code", "in", state["codes"])])
        targets = [(s, c, fields.Date.to_date(m)) for s, c, m in state["targets"]]

        def progress(code):
            state["done"].append(code)
            params.set_param(RUN_STATE_PARAM, json.dumps(state))
            if commit:
                self.env["ir.cron"]._commit_progress(1)
                # the commit released the lock: hold it again for the next KPI
                Runner._take_recompute_lock(wait=True)

        summary = Runner._run(
            companies,
            kpis,
            targets,
            fields.Date.to_date(state["month_to"]),
            done=set(state["done"]),
            on_progress=progress,
        )
        params.set_param(RUN_STATE_PARAM, "")
        if commit:
            self.env["ir.cron"]._commit_progress(0)
        return summary

    @api.model
    def _take_queue(self, current_month):
        """Consume the queue of changed days into the run's target months."""
        Runner = self.env["crm.kpi.run"].sudo()
        cr = self.env.cr
        self.env.flush_all()
        cr.execute("DELETE FROM crm_kpi_changed_day RETURNING company_id, day")
        touched = {}
        for company_id, day in cr.fetchall():
            # the day is a UTC day: its local month may be a neighbour's
            for shifted in (day - timedelta(days=1), day, day + timedelta(days=1)):
                touched.setdefault(company_id, set()).add(month_start(shifted))
        # months computed while they were running, and over since: counted
        # to their end now
        cr.execute(
            """SELECT company_id, array_agg(DISTINCT date) FROM crm_kpi_total
                WHERE month_to_date AND date < %s GROUP BY company_id""",
            (current_month,),
        )
        for company_id, months in cr.fetchall():
            touched.setdefault(company_id, set()).update(months)
        companies = Runner._get_recompute_companies(None)
        targets = set()
        for company in companies:
            months = {m for m in touched.get(company.id, ()) if m <= current_month}
            months.add(current_month)
            for month in months:
                targets.add((SCOPE_MONTH, company.id, month))
            for month in Runner._month_range(min(months), current_month):
                targets.add((SCOPE_FORWARD, company.id, month))
        return {
            "companies": companies.ids,
            "codes": Runner._get_recompute_kpis(None).mapped("code"),
            "targets": sorted((s, c, fields.Date.to_string(m)) for s, c, m in targets),
            "month_to": fields.Date.to_string(current_month),
            "done": [],
        }

    # ------------------------------------------------------------ freshness
    @api.model
    def _get_freshness(self):
        """When the figures were last recomputed (UTC, or False) and how
        often the scheduled refresh runs."""
        params = self.env["ir.config_parameter"].sudo()
        return {
            "computed_at": params.get_param(LAST_RUN_PARAM) or False,
            "interval": params.get_param(REFRESH_PARAM) or DEFAULT_REFRESH,
        }

    @api.model
    def get_freshness(self):
        """What the analysis screens say of the figures: when they were last
        computed (UTC, or False) and the refresh schedule, in words. For KPI
        users."""
        if not self.env.user.has_group("crm_strategic_kpi.group_kpi_user"):
            raise AccessError(self.env._("The figures are for KPI users."))
        freshness = self._get_freshness()
        intervals = dict(
            self.env["res.config.settings"]._fields["kpi_refresh_interval"].selection
        )
        return {
            "computed_at": freshness["computed_at"],
            "refresh_interval": intervals.get(freshness["interval"], ""),
        }

    @api.model
    def _apply_refresh_interval(self):
        """Give the scheduled refresh the interval of the setting: the nightly
        one at 02:00 company time, the others from now on."""
        cron = self.env.ref(
            "crm_strategic_kpi.ir_cron_recompute_kpis", raise_if_not_found=False
        )
        if not cron:
            return
        interval = self._get_freshness()["interval"]
        number, unit = REFRESH_INTERVALS.get(
            interval, REFRESH_INTERVALS[DEFAULT_REFRESH]
        )
        cron.sudo().write({"interval_number": number, "interval_type": unit})
        if interval == "nightly":
            self._schedule_nightly_run()
        else:
            cron.sudo().nextcall = fields.Datetime.now()

    @api.model
    def action_refresh_figures(self):
        """A KPI user brings the figures up to date now: the incremental run
        of the changed days and the current month, under the recompute lock,
        then the running goals. Says what it did."""
        if not self.env.user.has_group("crm_strategic_kpi.group_kpi_user"):
            raise AccessError(self.env._("Only KPI users can refresh the figures."))
        summary = self.sudo()._run_incremental()
        if summary is None:
            return self._notify(
                self.env._("Figures not refreshed"),
                self.env._(
                    "Another recompute is running right now; its figures will "
                    "be there when it has finished. Try again in a minute."
                ),
                "warning",
            )
        self.env["crm.kpi.goal"].sudo()._cron_update_goals()
        return self._notify(
            self.env._("Figures refreshed"),
            self.env._(
                "%(kpis)s KPIs recomputed for the changed months and the "
                "current month in %(seconds)s s.",
                kpis=len(summary["rows"]),
                seconds=round(summary["seconds"], 1),
            ),
            "success",
        )

    @api.model
    def _notify(self, title, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": kind,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
