"""Error pages; a failed request's transaction is rolled back."""

from __future__ import annotations

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.extensions import db
from portal.services.errors import Forbidden, NotFound


def init_app(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def not_found(error: NotFound) -> ResponseReturnValue:
        return render_template("errors/error.html", code=404, message=str(error)), 404

    @app.errorhandler(Forbidden)
    def forbidden(error: Forbidden) -> ResponseReturnValue:
        return render_template("errors/error.html", code=403, message=str(error)), 403

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> ResponseReturnValue:
        message = "The form expired or came from another site. Reload the page and try again."
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        code = error.code or 500
        messages = {
            403: "You do not have permission to open this page.",
            404: "There is nothing here. It may have been moved or never existed.",
            405: "This address does not accept that kind of request.",
            413: "The upload is too large: files of up to 20 MB are accepted.",
            429: "Too many requests from your address. Wait a minute and try again.",
        }
        message = messages.get(code, error.description or "")
        return render_template("errors/error.html", code=code, message=message), code

    @app.errorhandler(500)
    def server_error(error: Exception) -> ResponseReturnValue:
        db.session.rollback()
        message = "Something went wrong on our side. Nothing was saved; please try again."
        return render_template("errors/error.html", code=500, message=message), 500
