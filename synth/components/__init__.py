"""One module per group of Kubernetes objects; each exposes a function (scope, spec) -> None."""
