from odoo import api, models


class SurveyQuestion(models.Model):
    _inherit = "survey.question"

    @api.constrains("question_type", "scale_min", "scale_max", "survey_id")
    def _check_kpi_feedback_scale(self):
        self.survey_id._check_kpi_feedback_kind()
