from . import test_ticket_kpis
