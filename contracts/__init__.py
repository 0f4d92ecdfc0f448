"""What the spec, the generator, the gate, the runtime and the pod scripts agree on, defined once: numeric
bounds, defaults, rule ids, paths and environment variable names. It imports none of them (only the standard
library), so every other package may import it and it never forms a circle.

Dependencies run one way (tests/test_architecture.py holds them):
CLI -> pipeline -> generator -> spec -> contracts; gate -> contracts; runtime -> contracts;
devcluster (development and tests) -> spec, generator names, runtime, contracts.
"""
