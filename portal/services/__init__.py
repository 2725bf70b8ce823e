"""Use cases: the only code that writes models, one transaction each."""
