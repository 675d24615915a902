"""What every admin router shares: role guards with the per-admin rate limit, and the
list parameters of the seed 004 endpoints."""
