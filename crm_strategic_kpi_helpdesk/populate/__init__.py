from .tickets import populate_tickets
