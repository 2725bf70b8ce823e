"""How API calls authenticate; importing this package registers every authenticator."""

from portal.api.auth import keys  # noqa: F401
