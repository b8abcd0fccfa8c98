from odoo import api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.crm_strategic_kpi.models.crm_kpi_feedback import SCORE_RANGES


class SurveySurvey(models.Model):
    _inherit = "survey.survey"

    kpi_feedback_kind = fields.Selection(
        selection=[("nps", "NPS survey"), ("ces", "CES survey")],
        string="Customer Feedback",
        help="Every completed answer with a partner becomes a feedback row of "
        "this kind: the survey needs exactly one scale question, 0-10 for NPS, "
        "1-7 for CES.",
    )

    @api.constrains("kpi_feedback_kind", "question_ids")
    def _check_kpi_feedback_kind(self):
        for survey in self.filtered("kpi_feedback_kind"):
            question = survey._get_kpi_feedback_question()
            low, high = SCORE_RANGES[survey.kpi_feedback_kind]
            if len(question) != 1 or (question.scale_min, question.scale_max) != (
                low,
                high,
            ):
                raise ValidationError(
                    self.env._(
                        "An %(kind)s survey needs exactly one scale question from "
                        "%(low)s to %(high)s; %(survey)s has %(count)s scale "
                        "questions.",
                        kind=survey.kpi_feedback_kind.upper(),
                        low=low,
                        high=high,
                        survey=survey.title,
                        count=len(question),
                    )
                )

    def _get_kpi_feedback_question(self):
        self.ensure_one()
        return self.question_ids.filtered(lambda q: q.question_type == "scale")
