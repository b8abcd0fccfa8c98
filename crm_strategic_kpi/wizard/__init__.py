from . import crm_kpi_report_wizard
from . import base_partner_merge
from . import crm_kpi_churn_analysis
