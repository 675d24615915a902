"""Partner ranks: the rank plan, monthly qualification and its history."""
