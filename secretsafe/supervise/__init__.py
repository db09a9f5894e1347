"""``secretsafe run`` as a supervisor (redact, watch, mount): the modes that need a process
that stays around while the child runs. The plain ``run`` exec path does not import this."""
