from . import test_ticket_kpis
from . import test_populate_tickets
