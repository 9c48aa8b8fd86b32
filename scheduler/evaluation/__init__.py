"""The parts of the plan checker; :mod:`scheduler.evaluate` is the public entry."""
