"""dist/'s cluster as real local processes, for development and tests: on loopback addresses
(local_cluster.py) or as pods in network namespaces with the headless Service's DNS names (netns.py).
Never shipped in the smoke image."""
