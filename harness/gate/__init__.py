"""The release gate: a policy (policy.py) judged on a run's results (rules.py), against a fixed
baseline when asked (baseline.py), written out as a table, JUnit XML and Markdown (outputs.py).
The `harness gate` and `harness bless` commands are in harness/commands/."""
