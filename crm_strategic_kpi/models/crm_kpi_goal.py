import itertools
import statistics
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import format_date

from ..engine.rules import month_start, months_between

STATES = [
    ("draft", "Draft"),
    ("running", "Running"),
    ("achieved", "Achieved"),
    ("missed", "Missed"),
    ("cancelled", "Cancelled"),
]
STATUSES = [
    ("not_started", "Not started"),
    ("on_track", "On track"),
    ("at_risk", "At risk"),
    ("off_track", "Off track"),
]
# The fact dimensions a goal can be scoped to: goal field -> fact field
SCOPE_FIELDS = {
    "team_id": "team_id",
    "salesperson_id": "user_id",
    "segment_id": "segment_id",
    "campaign_id": "campaign_id",
}


class CrmKpiGoal(models.Model):
    """A SMART goal on a KPI: specific, measurable, achievable, relevant and
    time-bound, with its baseline, target, progress and forecast.

    Values of ratio KPIs are ratios of the summed facts over a period; values
    of counts and amounts are monthly averages over the period (so that a
    baseline of three months and a goal period of a year compare).
    """

    _name = "crm.kpi.goal"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "SMART Goal"
    _order = "date_deadline, id"
    _check_company_auto = True

    # Specific
    name = fields.Char(required=True, tracking=True)
    description = fields.Html(string="Action Plan")
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Owner",
        default=lambda self: self.env.user,
        tracking=True,
        domain=[("share", "=", False)],
        help="The goal's figures are computed with the owner's access rights: "
        "they hold only what the owner may read.",
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        default=lambda self: self.env.company,
        index=True,
    )
    team_id = fields.Many2one(comodel_name="crm.team", check_company=True)
    salesperson_id = fields.Many2one(
        comodel_name="res.users",
        domain=[("share", "=", False)],
        help="Limit the goal to the figures of one salesperson.",
    )
    segment_id = fields.Many2one(comodel_name="crm.kpi.segment", check_company=True)
    campaign_id = fields.Many2one(comodel_name="utm.campaign")
    # Measurable
    kpi_id = fields.Many2one(comodel_name="crm.kpi", string="KPI", tracking=True)
    kpi_unit = fields.Selection(related="kpi_id.unit")
    kpi_better = fields.Selection(related="kpi_id.better")
    baseline_months = fields.Integer(default=3)
    baseline_value = fields.Float(digits=(16, 2), tracking=True)
    has_baseline = fields.Boolean(
        help="Set once the baseline is captured or entered by hand."
    )
    target_mode = fields.Selection(
        selection=[("absolute", "Absolute value"), ("relative", "Change in %")],
        required=True,
        default="absolute",
    )
    target_change_pct = fields.Float(
        string="Target Change (%)",
        help="E.g. -25 to reduce the KPI by a quarter against the baseline.",
    )
    target_value = fields.Float(
        digits=(16, 2),
        compute="_compute_target_value",
        store=True,
        readonly=False,
        tracking=True,
    )
    # Achievable
    achievable_note = fields.Text(
        help="Why this target can be reached: resources, levers, comparisons."
    )
    required_monthly_change = fields.Float(
        compute="_compute_achievability", digits=(16, 2)
    )
    historical_monthly_change = fields.Float(
        string="Typical Monthly Change",
        compute="_compute_achievability",
        digits=(16, 2),
        help="Standard deviation of the KPI's month-to-month change over the 12 "
        "months before the start, in the goal's scope.",
    )
    ambitious = fields.Boolean(
        compute="_compute_achievability",
        help="The target needs more than three times the typical monthly change "
        "every month.",
    )
    # Relevant
    objective_id = fields.Many2one(comodel_name="crm.kpi.objective", tracking=True)
    relevance_note = fields.Text(
        help="Why this KPI serves the objective when the objective does not list it."
    )
    kpi_in_objective = fields.Boolean(compute="_compute_smart")
    # Time-bound (by default the current month and the two after it)
    date_start = fields.Date(
        tracking=True,
        default=lambda self: fields.Date.context_today(self).replace(day=1),
    )
    date_deadline = fields.Date(
        string="Deadline",
        tracking=True,
        default=lambda self: (
            fields.Date.context_today(self).replace(day=1)
            + relativedelta(months=3, days=-1)
        ),
    )
    # State and live figures
    state = fields.Selection(
        selection=STATES, required=True, default="draft", tracking=True, copy=False
    )
    current_value = fields.Float(digits=(16, 2), readonly=True, copy=False)
    has_current_value = fields.Boolean(readonly=True, copy=False)
    progress = fields.Float(readonly=True, copy=False, aggregator="avg")
    expected_progress = fields.Float(readonly=True, copy=False, aggregator="avg")
    forecast_value = fields.Float(digits=(16, 2), readonly=True, copy=False)
    status = fields.Selection(
        selection=STATUSES,
        readonly=True,
        copy=False,
        tracking=True,
        default="not_started",
        group_expand="_expand_statuses",
    )
    baseline_period = fields.Char(
        compute="_compute_periods",
        help="The months the baseline is taken from: the baseline months "
        "before the start.",
    )
    current_period = fields.Char(
        compute="_compute_periods",
        help="The period of the current value: from the start to today (the "
        "running month as far as it went) or to the deadline.",
    )
    figures_computed_at = fields.Datetime(
        string="Figures Computed",
        compute="_compute_figures_computed_at",
        help="When the KPI figures behind the current value were last recomputed.",
    )
    progress_bar = fields.Float(
        string="Progress (0-100 %)",
        compute="_compute_progress_bar",
        help="The progress as the bar shows it, within 0 and 100 %; the exact "
        "figure stands beside it.",
    )
    checkpoint_ids = fields.One2many(
        comodel_name="crm.kpi.goal.checkpoint", inverse_name="goal_id", copy=False
    )
    # The SMART checklist
    smart_specific = fields.Boolean(string="Specific", compute="_compute_smart")
    smart_measurable = fields.Boolean(string="Measurable", compute="_compute_smart")
    smart_achievable = fields.Boolean(string="Achievable", compute="_compute_smart")
    smart_relevant = fields.Boolean(string="Relevant", compute="_compute_smart")
    smart_time_bound = fields.Boolean(string="Time-bound", compute="_compute_smart")

    @api.model
    def _expand_statuses(self, statuses, domain):
        return [key for key, _label in STATUSES]

    @api.depends("date_start", "date_deadline", "baseline_months")
    def _compute_periods(self):
        today = fields.Date.context_today(self)
        for goal in self:
            goal.baseline_period = goal.current_period = False
            if not (goal.date_start and goal.date_deadline):
                continue
            start = month_start(goal.date_start)
            if goal.baseline_months == 1:
                goal.baseline_period = format_date(
                    self.env, start - relativedelta(months=1), date_format="MMM y"
                )
            elif goal.baseline_months > 1:
                goal.baseline_period = self.env._(
                    "%(first)s to %(last)s",
                    first=format_date(
                        self.env,
                        start - relativedelta(months=goal.baseline_months),
                        date_format="MMM y",
                    ),
                    last=format_date(
                        self.env, start - relativedelta(months=1), date_format="MMM y"
                    ),
                )
            end = min(today, goal.date_deadline)
            if end < goal.date_start:
                continue
            period = self.env._(
                "%(first)s to %(last)s",
                first=format_date(self.env, goal.date_start),
                last=format_date(self.env, end),
            )
            if end < goal.date_deadline:
                period = self.env._("%(period)s (to date)", period=period)
            goal.current_period = period

    def _compute_figures_computed_at(self):
        computed_at = self.env["crm.kpi.changed.day"]._get_freshness()["computed_at"]
        self.figures_computed_at = computed_at or False

    @api.depends("progress")
    def _compute_progress_bar(self):
        for goal in self:
            goal.progress_bar = min(max(goal.progress, 0.0), 100.0)

    @api.depends("target_mode", "target_change_pct", "baseline_value", "has_baseline")
    def _compute_target_value(self):
        for goal in self:
            if goal.target_mode == "relative":
                goal.target_value = (
                    goal.baseline_value * (1 + goal.target_change_pct / 100)
                    if goal.has_baseline
                    else 0.0
                )

    @api.depends(
        "name",
        "description",
        "user_id",
        "kpi_id",
        "has_baseline",
        "target_mode",
        "target_value",
        "target_change_pct",
        "achievable_note",
        "objective_id",
        "objective_id.kpi_ids",
        "relevance_note",
        "date_start",
        "date_deadline",
    )
    def _compute_smart(self):
        for goal in self:
            missing = goal._get_missing_criteria()
            goal.smart_specific = "specific" not in missing
            goal.smart_measurable = "measurable" not in missing
            goal.smart_achievable = "achievable" not in missing
            goal.smart_relevant = "relevant" not in missing
            goal.smart_time_bound = "time_bound" not in missing
            goal.kpi_in_objective = goal.kpi_id in goal.objective_id.kpi_ids

    @api.depends(
        "kpi_id",
        "date_start",
        "date_deadline",
        "target_value",
        "baseline_value",
        "company_id",
        "team_id",
        "salesperson_id",
        "segment_id",
        "campaign_id",
        "user_id",
    )
    def _compute_achievability(self):
        for goal in self:
            goal.required_monthly_change = 0.0
            goal.historical_monthly_change = 0.0
            goal.ambitious = False
            if not (goal.kpi_id and goal.date_start and goal.date_deadline):
                continue
            months = max(months_between(goal.date_start, goal.date_deadline), 1)
            goal.required_monthly_change = (
                goal.target_value - goal.baseline_value
            ) / months
            history = [
                value
                for _month, value in goal._get_monthly_values(
                    month_start(goal.date_start) - relativedelta(months=12),
                    month_start(goal.date_start) - relativedelta(months=1),
                )
                if value is not None
            ]
            changes = [b - a for a, b in itertools.pairwise(history)]
            if len(changes) >= 2:
                goal.historical_monthly_change = statistics.pstdev(changes)
                goal.ambitious = abs(goal.required_monthly_change) > (
                    3 * goal.historical_monthly_change
                )

    @api.constrains("date_start", "date_deadline")
    def _check_dates(self):
        for goal in self:
            if (
                goal.date_start
                and goal.date_deadline
                and goal.date_start >= goal.date_deadline
            ):
                raise ValidationError(
                    self.env._(
                        "The goal %(goal)s must start before its deadline.",
                        goal=goal.name,
                    )
                )

    @api.constrains("baseline_months")
    def _check_baseline_months(self):
        for goal in self:
            if not 1 <= goal.baseline_months <= 36:
                raise ValidationError(
                    self.env._("The baseline covers 1 to 36 months before the start.")
                )

    @api.onchange("baseline_value")
    def _onchange_baseline_value(self):
        self.has_baseline = True

    def _get_missing_criteria(self):
        """Keys of the SMART criteria this goal does not meet."""
        self.ensure_one()
        missing = []
        plan = self.description and fields.Html.to_plaintext(self.description).strip()
        if not (self.name and plan and self.user_id):
            missing.append("specific")
        if self.target_mode == "relative":
            has_target = bool(self.target_change_pct)
        else:
            # 0 is a target once a baseline tells it apart from "not set"
            has_target = bool(self.target_value) or (
                self.has_baseline and self.target_value != self.baseline_value
            )
        if not (self.kpi_id and has_target):
            missing.append("measurable")
        if not (self.achievable_note or "").strip():
            missing.append("achievable")
        if not self.objective_id or (
            self.kpi_id not in self.objective_id.kpi_ids
            and not (self.relevance_note or "").strip()
        ):
            missing.append("relevant")
        if not (
            self.date_start
            and self.date_deadline
            and self.date_start < self.date_deadline
        ):
            missing.append("time_bound")
        return missing

    def _get_direction_error(self):
        """Why the target is no improvement on the baseline in the KPI's
        direction, or None."""
        self.ensure_one()
        better = self.kpi_id.better
        baseline, target = self.baseline_value, self.target_value
        values = {
            "baseline": round(baseline, 2),
            "target": round(target, 2),
            "kpi": self.kpi_id.name,
        }
        if better == "higher" and target <= baseline:
            return self.env._(
                "Measurable: %(kpi)s is better when higher, so the target "
                "(%(target)s) must lie above the baseline (%(baseline)s).",
                **values,
            )
        if better == "lower" and target >= baseline:
            return self.env._(
                "Measurable: %(kpi)s is better when lower, so the target "
                "(%(target)s) must lie below the baseline (%(baseline)s).",
                **values,
            )
        if target == baseline:
            return self.env._(
                "Measurable: the target (%(target)s) equals the baseline "
                "(%(baseline)s).",
                **values,
            )
        return None

    # ------------------------------------------------------------ actions
    def action_start(self):
        explanations = {
            "specific": self.env._(
                "Specific: give the goal a name, an owner and an action plan."
            ),
            "measurable": self.env._(
                "Measurable: choose a KPI and a target (a value, or a change in %)."
            ),
            "achievable": self.env._(
                "Achievable: explain why the target can be reached."
            ),
            "relevant": self.env._(
                "Relevant: choose an objective; if it does not list the KPI, "
                "explain why the KPI serves it."
            ),
            "time_bound": self.env._(
                "Time-bound: set a start date before the deadline."
            ),
        }
        for goal in self:
            if goal.state != "draft":
                raise UserError(
                    self.env._(
                        "Only draft goals can be started (%(goal)s).", goal=goal.name
                    )
                )
            missing = goal._get_missing_criteria()
            if not missing and not goal.has_baseline:
                goal._capture_baseline()
                if not goal.has_baseline:
                    missing.append("measurable")
                    explanations["measurable"] = self.env._(
                        "Measurable: the KPI has no figures in the %(months)s "
                        "months before the start in this scope; enter the "
                        "baseline by hand.",
                        months=goal.baseline_months,
                    )
            direction = (
                goal._get_direction_error()
                if not missing and goal.has_baseline
                else None
            )
            if direction:
                missing.append("measurable")
                explanations["measurable"] = direction
            if missing:
                raise UserError(
                    self.env._(
                        "The goal %(goal)s is not SMART yet:\n%(missing)s",
                        goal=goal.name,
                        missing="\n".join(f"- {explanations[m]}" for m in missing),
                    )
                )
            goal.state = "running"
            goal._update_live_figures()

    def action_cancel(self):
        self.filtered(lambda g: g.state in ("draft", "running")).state = "cancelled"

    def action_reset_draft(self):
        self.filtered(lambda g: g.state == "cancelled").write(
            {"state": "draft", "status": "not_started"}
        )

    def action_refresh(self):
        """Bring the figures up to date (changed months and the current
        month), then the running goals."""
        return self.env["crm.kpi.changed.day"].action_refresh_figures()

    def action_capture_baseline(self):
        for goal in self.filtered(lambda g: g.state == "draft"):
            goal._capture_baseline()

    def action_duplicate_next_period(self):
        """Carry the plan forward into the next period of the same length,
        with a baseline to be taken afresh when it starts."""
        self.ensure_one()
        if not (self.date_start and self.date_deadline):
            raise UserError(self.env._("Set the goal's period first."))
        length = self.date_deadline - self.date_start
        start = self.date_deadline + timedelta(days=1)
        new = self.copy(
            {
                "name": self.env._("%(name)s (next period)", name=self.name),
                "date_start": start,
                "date_deadline": start + length,
                "baseline_value": 0.0,
                "has_baseline": False,
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": new.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    def action_open_analysis(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_strategic_kpi.crm_kpi_value_action_graph"
        )
        action["domain"] = self._get_fact_domain(
            month_start(self.date_start) - relativedelta(months=self.baseline_months)
            if self.date_start
            else None,
            self.date_deadline,
        )
        action["display_name"] = self.name
        return action

    def action_open_change_breakdown(self):
        """Why the current value differs from the baseline: the change split
        by sales team (or another dimension), within the goal's scope."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        if not (self.date_start and self.date_deadline) or today < self.date_start:
            raise UserError(
                self.env._(
                    "The goal has no current period yet: it starts on %(day)s.",
                    day=format_date(self.env, self.date_start),
                )
            )
        start = month_start(self.date_start)
        end = min(today, self.date_deadline)
        values = {
            "kpi_id": self.kpi_id.id,
            "date_from": start,
            "months": months_between(start, end),
            "previous_from": start - relativedelta(months=self.baseline_months),
            "previous_months": self.baseline_months,
            "label": self.current_period,
            "previous_label": self.baseline_period,
            "per_month": True,
            "company_id": self.company_id.id,
        }
        for goal_field, fact_field in SCOPE_FIELDS.items():
            if self[goal_field]:
                values[fact_field] = self[goal_field].id
        return self.env["crm.kpi.change.breakdown"].action_open(values)

    def action_open_checkpoints(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_strategic_kpi.crm_kpi_goal_checkpoint_action"
        )
        action["domain"] = [("goal_id", "=", self.id)]
        action["display_name"] = self.name
        return action
