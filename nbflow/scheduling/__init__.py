"""Scheduling: the scheduler daemon's decisions and loop, and the folder watch that wakes it."""
