"""The admin toolkit every app's admin builds on: presentation (badges, links), filters, read-only
record admins and the call-action framework (one parameters page, one permission check)."""
