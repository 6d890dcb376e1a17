"""The core: pure rules and values, no I/O (states, the workflow model, the task graph,
references, conditions, durations, trigger times, cron, parameter types and values, the
clock, the error tree, did-you-mean hints)."""
