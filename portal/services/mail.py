"""Choose the mailer from configuration and send a message."""

from __future__ import annotations

from typing import cast

from flask import current_app

from integrations.notify.email import LogMailer, Mailer, OutgoingEmail, Security, SmtpMailer


def mailer() -> Mailer:
    cfg = current_app.config
    if not cfg.get("SMTP_HOST"):
        return LogMailer(sender=cfg["MAIL_SENDER"])
    return SmtpMailer(
        host=cfg["SMTP_HOST"],
        port=int(cfg["SMTP_PORT"]),
        sender=cfg["MAIL_SENDER"],
        security=cast(Security, cfg["SMTP_SECURITY"]),
        username=cfg.get("SMTP_USERNAME"),
        password=cfg.get("SMTP_PASSWORD"),
    )


def send(message: OutgoingEmail) -> str:
    return mailer().send(message)


def absolute_url(path: str) -> str:
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + path
