"""How a business's documents look: colours, font, design, logo, and its own texts."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from markupsafe import Markup
from sqlalchemy import select

from portal.documents.fonts import FONTS
from portal.documents.logo import LogoError, check_logo
from portal.documents.render import DESIGNS
from portal.documents.templating import KINDS, TemplateProblem, render_markdown
from portal.documents.views import sample_placeholders
from portal.extensions import db
from portal.models import DocumentTemplate, Role
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput

HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_TEXT = 2000


@dataclass(frozen=True, slots=True)
class BrandingData:
    design: str
    brand_color: str
    accent_color: str
    font: str
    footer_text: str
    payment_instructions: str


def branding_of(actor: Actor) -> BrandingData:
    b = actor.business
    return BrandingData(**{f.name: getattr(b, f.name) for f in fields(BrandingData)})


def _check(data: BrandingData) -> dict[str, str]:
    errors: dict[str, str] = {}
    if data.design not in DESIGNS:
        errors["design"] = f"Choose one of the designs: {', '.join(DESIGNS)}."
    for name in ("brand_color", "accent_color"):
        if not HEX_COLOR.fullmatch(getattr(data, name).strip()):
            errors[name] = "Enter a colour as #rrggbb, for example #2f5bea."
    if data.font not in FONTS:
        errors["font"] = f"Choose one of the bundled fonts: {', '.join(FONTS)}."
    for name in ("footer_text", "payment_instructions"):
        if len(getattr(data, name)) > MAX_TEXT:
            errors[name] = f"Keep this to {MAX_TEXT} characters or fewer."
    return errors


def update_branding(actor: Actor, data: BrandingData) -> None:
    actor.require(Role.ADMIN)
    if errors := _check(data):
        raise InvalidInput(errors)
    before = branding_of(actor)
    business = actor.business
    for f in fields(BrandingData):
        value = getattr(data, f.name).strip()
        setattr(business, f.name, value.lower() if f.name.endswith("_color") else value)
    audit.record(
        business=business,
        actor=actor.user,
        action="branding.updated",
        entity_type="business",
        entity_id=business.public_id,
        before={f.name: getattr(before, f.name) for f in fields(BrandingData)},
        after={f.name: getattr(business, f.name) for f in fields(BrandingData)},
    )
    db.session.commit()


def upload_logo(actor: Actor, data: bytes) -> None:
    """Check the bytes (type, size, pixels; SVG cleaned) and keep the logo; nothing on error."""
    actor.require(Role.ADMIN)
    try:
        logo = check_logo(data)
    except LogoError as exc:
        raise InvalidInput({"logo": str(exc)}) from None
    business = actor.business
    business.logo, business.logo_media_type = logo.data, logo.media_type
    audit.record(
        business=business,
        actor=actor.user,
        action="branding.logo_uploaded",
        entity_type="business",
        entity_id=business.public_id,
        after={"media_type": logo.media_type, "size": len(logo.data)},
    )
    db.session.commit()


def remove_logo(actor: Actor) -> None:
    actor.require(Role.ADMIN)
    business = actor.business
    business.logo, business.logo_media_type = None, None
    audit.record(
        business=business,
        actor=actor.user,
        action="branding.logo_removed",
        entity_type="business",
        entity_id=business.public_id,
    )
    db.session.commit()


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput({"kind": f"Templates exist for: {', '.join(KINDS)}."})
    return kind


def template_for(actor: Actor, kind: str) -> DocumentTemplate | None:
    return db.session.scalar(
        select(DocumentTemplate).where(
            DocumentTemplate.business_id == actor.business.id,
            DocumentTemplate.kind == _kind(kind),
        )
    )


def preview_template(actor: Actor, kind: str, body: str) -> Markup:
    """The template filled with sample values; ``TemplateProblem`` names the line at fault."""
    return render_markdown(body, sample_placeholders(_kind(kind), actor.business))


def save_template(actor: Actor, kind: str, body: str) -> DocumentTemplate:
    """Keep a template that renders; a broken one is refused and the saved one stays."""
    actor.require(Role.ADMIN)
    body = body.replace("\r\n", "\n")
    try:
        preview_template(actor, kind, body)
    except TemplateProblem as exc:
        raise InvalidInput({"body": str(exc)}) from None
    row = template_for(actor, kind)
    before = row.body if row is not None else None
    if row is None:
        row = DocumentTemplate(business_id=actor.business.id, kind=kind, body=body)
        db.session.add(row)
    row.body = body
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="document_template.saved",
        entity_type="document_template",
        entity_id=f"{actor.business.public_id}:{kind}",
        before={"body": before} if before is not None else None,
        after={"body": body},
    )
    db.session.commit()
    return row


def reset_template(actor: Actor, kind: str) -> None:
    """Go back to the built-in text in the reader's language."""
    actor.require(Role.ADMIN)
    row = template_for(actor, kind)
    if row is None:
        return
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="document_template.reset",
        entity_type="document_template",
        entity_id=f"{actor.business.public_id}:{kind}",
        before={"body": row.body},
    )
    db.session.delete(row)
    db.session.commit()
