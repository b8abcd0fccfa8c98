from . import test_survey_feedback
