"""Kernels: where a notebook attempt's kernel is started (the pool, the fork server that
forks ready kernels, the pooled kernel an attempt leases, the kernel managers)."""
