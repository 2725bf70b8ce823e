"""The REST API at ``/api/v1``: resources, who is calling, and the rules every call follows."""
