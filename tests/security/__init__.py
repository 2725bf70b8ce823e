"""Two-factor login, sessions, throttling and password rules."""
