"""Doors, shared by lockers, transactions and the tower: opening one, and what sensors see."""
