"""crm-es: an event-sourced CRM. Every change is an immutable event."""
