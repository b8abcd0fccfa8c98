from . import helpdesk_ticket_team
from . import helpdesk_ticket
from . import crm_kpi_run
from . import crm_kpi_feedback_request
from . import crm_kpi
from . import res_company
