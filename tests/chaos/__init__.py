"""Chaos: the fault campaign's machinery and the soak behind ``make chaos``.

- ``workload``: the kinds of work faults are thrown at; ``approver``: the scripted approver;
- ``outages``, ``duplicates``, ``malformed``: the faults besides a SIGKILL;
- ``campaign``: one case of tests/e2e/test_fault_campaign.py;
- ``soak``, ``fleet``, ``recovery``, ``report``: ``python -m tests.chaos``.
"""
