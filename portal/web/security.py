"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response, abort, request

DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
]
CSP = "; ".join(DIRECTIVES)


def csp_with_form_targets(origins: list[str]) -> str:
    """The policy, letting forms lead to these origins too (a payment provider's hosted page:
    the browser checks form-action on the redirect that follows the POST)."""
    extra = " ".join(origins)
    return "; ".join(
        f"form-action 'self' {extra}" if d == "form-action 'self'" else d for d in DIRECTIVES
    )


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul_in_the_query() -> None:
        # Nobody types a NUL: in a filter it reached the SQL, where SQLite cut the text short
        # (a search for it matched everything) and PostgreSQL refuses it outright (a 500).
        if any("\x00" in key + value for key, value in request.args.items(multi=True)):
            abort(400)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
