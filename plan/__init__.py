"""`redis-gitops plan`: what a merge will do to the running broker, from two renderings (and their specs)."""
