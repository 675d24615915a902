"""The member's own account: /api/v1/me (profile, addresses, avatar, sessions, closing)."""
