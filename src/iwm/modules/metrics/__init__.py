"""Prometheus `/metrics`: every worker's request, pool, part and job figures, and the
payouts by status read from the database."""
