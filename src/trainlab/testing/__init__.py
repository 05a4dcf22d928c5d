"""Infrastructure for tests and benchmarks only (never imported at run time).

- ``host_reads``: count host-device syncs in training steps; ``memory``: peak CPU memory of a piece of work
- ``postgres``, ``slurm``: a throwaway PostgreSQL server and a single-node SLURM cluster; ``ports``: a free port
  for such a server; ``lifetime``: what ends them with the test process that started them, however it ends
"""
