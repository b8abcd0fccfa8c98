from . import crm_kpi_report_wizard
from . import crm_kpi_report_xlsx
from . import base_partner_merge
from . import crm_kpi_churn_analysis
from . import crm_kpi_change_breakdown
