"""The vocabulary of Misiva: states, kinds, values and errors, on the stdlib alone."""
