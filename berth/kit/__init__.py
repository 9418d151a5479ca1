"""The small kit both services stand on: secret files, handing work to threads."""
