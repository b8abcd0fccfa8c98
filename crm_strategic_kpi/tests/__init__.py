from . import test_populate
from . import test_kpi_engine
from . import test_customer_intelligence
from . import test_feedback_request
from . import test_goal
from . import test_overview
from . import test_security
from . import test_report
