"""The fault suite: the rendered cluster (dist/'s config and pod scripts on real Redis and Sentinel) put through
the faults a Kubernetes cluster really has, under continuous writes, with the figures written down.

Development and test code: it drives devcluster.local_cluster and is not part of the smoke image.
`python -m faults` (`make faults`) runs every scenario and writes build/faults/; tests/test_faults.py runs
them in `make test` and holds them to the bounds in the README.
"""
