from . import crm_kpi_churn_analysis
