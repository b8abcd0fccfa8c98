"""The figures of goals: read from the facts with the owner's rights and
within the viewer's, the baseline, current value, progress and forecast, and
the nightly update with its checkpoints and warnings."""

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.fields import Domain

from ..engine.rules import month_start, months_between
from .crm_kpi_goal import SCOPE_FIELDS, STATUSES


class CrmKpiGoal(models.Model):
    _inherit = "crm.kpi.goal"

    # ------------------------------------------------------------ figures
    def _get_fact_reader(self):
        """``crm.kpi.value`` with the access rights of the goal's owner, in
        the owner's companies: the goal's figures hold only the facts its
        owner may read, whoever refreshes them (the nightly job included).
        A goal without owner is read with the current user's rights (by the
        nightly job: all figures; such goals are read by managers only)."""
        self.ensure_one()
        Value = self.env["crm.kpi.value"]
        owner = self.user_id
        if not owner:
            return Value
        return Value.with_user(owner).with_context(
            allowed_company_ids=owner.company_ids.ids
        )

    def _get_viewer_domain(self):
        """What the current user may read of the facts, when he is not the
        owner: figures computed on a form (or refreshed by a manager) never
        show him more than his own rules allow."""
        if self.env.su or self.user_id == self.env.user:
            return Domain.TRUE
        return self.env["ir.rule"]._compute_domain("crm.kpi.value", "read")

    @api.constrains("user_id", "team_id", "company_id")
    def _check_scope_readable(self):
        """A goal's owner is a KPI user of the goal's company; on a sales
        team, one who may read that team's figures: the facts' own rules
        decide."""
        Rule = self.env["ir.rule"]
        for goal in self.filtered("user_id"):
            owner = goal.user_id
            if not owner.has_group("crm_strategic_kpi.group_kpi_user"):
                raise ValidationError(
                    self.env._(
                        "%(owner)s is no KPI user and cannot own the goal %(goal)s.",
                        owner=owner.name,
                        goal=goal.name,
                    )
                )
            if goal.company_id not in owner.company_ids:
                raise ValidationError(
                    self.env._(
                        "%(owner)s does not work in %(company)s and cannot own "
                        "the goal %(goal)s.",
                        owner=owner.name,
                        company=goal.company_id.name,
                        goal=goal.name,
                    )
                )
            if not goal.team_id:
                continue
            # constraints run as superuser: take the owner's own rights
            env = (
                goal.with_user(owner)
                .with_context(allowed_company_ids=owner.company_ids.ids)
                .env
            )
            probe = (
                self.env["crm.kpi.value"]
                .sudo()
                .new({"company_id": goal.company_id.id, "team_id": goal.team_id.id})
            )
            if not (
                env["crm.kpi.value"].has_access("read")
                and probe.filtered_domain(Rule.with_env(env)._kpi_read_domain())
            ):
                raise ValidationError(
                    self.env._(
                        "%(owner)s may not read the figures of the sales team "
                        "%(team)s, so the goal %(goal)s cannot be scoped to it. "
                        "Choose a team the owner belongs to, or another owner.",
                        owner=owner.name,
                        team=goal.team_id.name,
                        goal=goal.name,
                    )
                )

    def _get_fact_domain(self, date_from, date_to):
        self.ensure_one()
        domain = [
            ("kpi_id", "=", self.kpi_id.id),
            ("company_id", "=", self.company_id.id),
        ]
        for goal_field, fact_field in SCOPE_FIELDS.items():
            if self[goal_field]:
                domain.append((fact_field, "=", self[goal_field].id))
        if date_from:
            domain.append(("date", ">=", month_start(date_from)))
        if date_to:
            domain.append(("date", "<=", date_to))
        return domain

    def _get_value(self, date_from, date_to):
        """The KPI over [month of date_from, month of date_to] in the goal's
        scope, or None when a ratio has no denominator."""
        self.ensure_one()
        kpi = self.kpi_id
        [(num, den)] = self._get_fact_reader()._read_group(
            Domain(self._get_fact_domain(date_from, date_to))
            & self._get_viewer_domain(),
            [],
            ["numerator:sum", "denominator:sum"],
        )
        num, den = num or 0.0, den or 0.0
        if kpi.is_ratio:
            return kpi._value_from_sums(num, den)
        # counts and amounts: a monthly average over the period
        return kpi._value_from_sums(num / months_between(date_from, date_to), den)

    def _get_monthly_values(self, date_from, date_to):
        """[(month, value)] for every month of the range; value None for a
        ratio without denominator, 0 for a count without facts."""
        self.ensure_one()
        kpi = self.kpi_id
        groups = self._get_fact_reader()._read_group(
            Domain(self._get_fact_domain(date_from, date_to))
            & self._get_viewer_domain(),
            ["date:month"],
            ["numerator:sum", "denominator:sum"],
        )
        by_month = {month_start(month): (num, den) for month, num, den in groups}
        values = []
        month = month_start(date_from)
        while month <= date_to:
            num, den = by_month.get(month, (0.0, 0.0))
            values.append((month, kpi._value_from_sums(num, den)))
            month += relativedelta(months=1)
        return values

    def _capture_baseline(self):
        for goal in self:
            start = month_start(goal.date_start)
            value = goal._get_value(
                start - relativedelta(months=goal.baseline_months),
                start - relativedelta(months=1),
            )
            if value is not None:
                goal.write({"baseline_value": value, "has_baseline": True})

    def _compute_progress(self, current):
        """% of the way from the baseline to the target (lower-is-better KPIs
        included: both differences are then negative)."""
        self.ensure_one()
        if current is None:
            return 0.0
        span = self.target_value - self.baseline_value
        if not span:
            reached = (
                current <= self.target_value
                if self.kpi_id.better == "lower"
                else current >= self.target_value
            )
            return 100.0 if reached else 0.0
        return 100.0 * (current - self.baseline_value) / span

    def _forecast(self, monthly):
        """Linear trend (least squares) of the monthly values, projected to
        the deadline's month."""
        points = [(i, v) for i, (_m, v) in enumerate(monthly) if v is not None]
        if not points:
            return None
        if len(points) == 1:
            return points[0][1]
        n = len(points)
        mean_x = sum(x for x, _y in points) / n
        mean_y = sum(y for _x, y in points) / n
        sxx = sum((x - mean_x) ** 2 for x, _y in points)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
        target_x = months_between(self.date_start, self.date_deadline) - 1
        return mean_y + slope * (target_x - mean_x)

    def _target_met(self, value):
        self.ensure_one()
        if value is None:
            return False
        if self.kpi_id.better == "lower":
            return value <= self.target_value
        return value >= self.target_value

    def _update_live_figures(self, today=None):
        """Recompute current value, progress, forecast and status."""
        today = today or fields.Date.context_today(self)
        for goal in self:
            end = min(today, goal.date_deadline)
            current = goal._get_value(goal.date_start, end)
            forecast = goal._forecast(goal._get_monthly_values(goal.date_start, end))
            progress = goal._compute_progress(current)
            total_days = (goal.date_deadline - goal.date_start).days
            elapsed = (today - goal.date_start).days
            expected = min(max(100.0 * elapsed / total_days, 0.0), 100.0)
            company = goal.company_id
            if goal._target_met(current) or (
                progress >= expected - company.kpi_goal_at_risk_gap
            ):
                status = "on_track"
            elif progress >= expected - company.kpi_goal_off_track_gap or (
                goal._target_met(forecast)
            ):
                status = "at_risk"
            else:
                status = "off_track"
            goal.write(
                {
                    "current_value": current or 0.0,
                    "has_current_value": current is not None,
                    "progress": progress,
                    "expected_progress": expected,
                    "forecast_value": forecast or 0.0,
                    "status": status,
                }
            )

    # ------------------------------------------------------------ nightly
    @api.model
    def _cron_update_goals(self, today=None):
        """Refresh the running goals and write their checkpoint; close those
        whose deadline has passed (achieved or missed); tell the owner of a
        goal that turned at risk or off track, and why."""
        today = today or fields.Date.context_today(self)
        running = self.search([("state", "=", "running")])
        previous = {goal: goal.status for goal in running}
        for goal in running:
            goal._update_live_figures(min(today, goal.date_deadline))
        running._write_checkpoints(today)
        for goal in running:
            if today > goal.date_deadline:
                met = goal.has_current_value and goal._target_met(goal.current_value)
                goal.state = "achieved" if met else "missed"
            elif goal.status != previous[goal] and goal.status != "on_track":
                goal._warn_owner(previous[goal])
        return running

    def _write_checkpoints(self, today):
        Checkpoint = self.env["crm.kpi.goal.checkpoint"]
        existing = Checkpoint.search(
            [("goal_id", "in", self.ids), ("date", "=", today)]
        )
        existing.unlink()
        Checkpoint.create(
            [
                {
                    "goal_id": goal.id,
                    "date": today,
                    "value": goal.current_value,
                    "progress": goal.progress,
                    "expected_progress": goal.expected_progress,
                    "status": goal.status,
                }
                for goal in self
            ]
        )

    def _warn_owner(self, previous_status):
        self.ensure_one()
        labels = dict(STATUSES)
        why = self.env._(
            "The goal moved from %(previous)s to %(status)s: %(progress)s %% of the "
            "way to the target after %(expected)s %% of the time; the trend "
            "points to %(forecast)s at the deadline against a target of "
            "%(target)s.",
            previous=labels.get(previous_status, previous_status),
            status=labels[self.status],
            progress=round(self.progress, 1),
            expected=round(self.expected_progress, 1),
            forecast=round(self.forecast_value, 2),
            target=round(self.target_value, 2),
        )
        self.message_post(body=why)
        if self.user_id:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                user_id=self.user_id.id,
                summary=self.env._("Goal %(status)s", status=labels[self.status]),
                note=why,
            )
