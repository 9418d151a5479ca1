"""The site's lock controllers as an owner manages them: list, replace a failed board."""
