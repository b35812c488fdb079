"""Fault injection: killed workers, broker and database restarts, poison records, bad tokens."""
