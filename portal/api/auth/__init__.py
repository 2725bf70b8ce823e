"""How API calls authenticate; importing this package registers every authenticator (in the
order they are tried) and the rate limit and access log hooks."""

# The access log first: its clock starts before the authenticators run.
from portal.api import access_log, ratelimit  # noqa: F401
from portal.api.auth import hmac, keys, oauth  # noqa: F401
