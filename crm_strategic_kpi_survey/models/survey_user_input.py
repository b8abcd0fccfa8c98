from odoo import fields, models


class SurveyUserInput(models.Model):
    _inherit = "survey.user_input"

    def _mark_done(self):
        res = super()._mark_done()
        self._kpi_create_feedback()
        return res

    def _kpi_create_feedback(self):
        """One feedback row per completed answer of an NPS/CES survey that has
        a partner and answered the scale question."""
        vals_list = []
        for user_input in self.filtered(
            lambda ui: ui.survey_id.kpi_feedback_kind and ui.partner_id
        ):
            survey = user_input.survey_id
            question = survey._get_kpi_feedback_question()
            line = user_input.user_input_line_ids.filtered(
                lambda ln, q=question: ln.question_id == q and not ln.skipped
            )[:1]
            if not line:
                continue
            comment = user_input.user_input_line_ids.filtered(
                lambda ln: ln.answer_type in ("text_box", "char_box") and not ln.skipped
            )[:1]
            vals_list.append(
                {
                    "kind": survey.kpi_feedback_kind,
                    "score": line.value_scale,
                    "comment": comment.value_text_box
                    or comment.value_char_box
                    or False,
                    "partner_id": user_input.partner_id.id,
                    "date": fields.Date.context_today(self),
                    "origin": "survey",
                    "res_model": "survey.user_input",
                    "res_id": user_input.id,
                    "company_id": (
                        user_input.partner_id.company_id or self.env.company
                    ).id,
                    "user_id": user_input.partner_id.user_id.id,
                }
            )
        return self.env["crm.kpi.feedback"].sudo().create(vals_list)
