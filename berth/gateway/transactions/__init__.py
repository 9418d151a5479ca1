"""Transactions: a locker assigned to an id until it is released (group-committed creates)."""
