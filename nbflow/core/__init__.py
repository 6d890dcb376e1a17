"""The core: pure rules and values, no I/O (states, the workflow model, the task graph,
references, conditions, durations, trigger times, cron, the clock, the error tree)."""
