"""Recording calls: the call file format (MCAP) and what writes and reads it."""
