"""The on-site Gateway API: transactions, locker assignment, lockers and lock controllers."""
