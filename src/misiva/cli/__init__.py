"""`misiva ...`: thin commands; errors are one line on stderr and exit code 1."""
