"""Teammates: invitations, accepting them, roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, url_for
from sqlalchemy import select

from integrations.notify.email import OutgoingEmail
from portal.extensions import db
from portal.models import Invitation, Membership, Role, User
from portal.models.base import utcnow
from portal.services import audit, mail
from portal.services.actors import Actor
from portal.services.auth import normalise_email
from portal.services.errors import Forbidden, InvalidInput, NotFound
from portal.services.passwords import check_strength, hash_password
from portal.services.tokens import new_token, token_hash


def members(actor: Actor) -> list[Membership]:
    stmt = (
        select(Membership)
        .join(User)
        .where(Membership.business_id == actor.business.id)
        .order_by(User.email)
    )
    return list(db.session.scalars(stmt))


def pending_invitations(actor: Actor) -> list[Invitation]:
    stmt = (
        select(Invitation)
        .where(
            Invitation.business_id == actor.business.id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at.desc())
    )
    return list(db.session.scalars(stmt))


def invite_member(actor: Actor, email: str, role: Role) -> Invitation:
    """Create an invitation and email its link; the token itself is never stored."""
    actor.require(Role.ADMIN)
    email = normalise_email(email)
    if role is Role.OWNER:
        raise InvalidInput({"role": "A business has one owner; invite as admin instead."})
    if not actor.role.at_least(role):
        raise InvalidInput({"role": "You cannot give a role above your own."})
    already = db.session.scalar(
        select(Membership)
        .join(User)
        .where(Membership.business_id == actor.business.id, User.email == email)
    )
    if already is not None:
        raise InvalidInput({"email": "This person is already a member of the business."})
    token, hashed = new_token()
    days = int(current_app.config["INVITATION_MAX_AGE_DAYS"])
    invitation = Invitation(
        business=actor.business,
        email=email,
        role=role,
        token_hash=hashed,
        invited_by=actor.user,
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="member.invited",
        entity_type="invitation",
        entity_id=invitation.public_id,
        after={"email": email, "role": role},
    )
    db.session.commit()
    link = mail.absolute_url(url_for("team.accept", token=token))
    mail.send(
        OutgoingEmail(
            to=(email,),
            reply_to=actor.user.email,
            subject=f"{actor.business.legal_name} invites you to Invoice Lite",
            text=(
                f"{actor.user.name or actor.user.email} invites you to join "
                f"{actor.business.legal_name} on Invoice Lite as {role.value}.\n\n"
                f"Accept within {days} days:\n{link}\n"
            ),
        )
    )
    return invitation


def revoke_invitation(actor: Actor, public_id: str) -> None:
    actor.require(Role.ADMIN)
    invitation = db.session.scalar(
        select(Invitation).where(
            Invitation.public_id == public_id,
            Invitation.business_id == actor.business.id,
            Invitation.accepted_at.is_(None),
        )
    )
    if invitation is None:
        raise NotFound("No such invitation.")
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="member.invitation_revoked",
        entity_type="invitation",
        entity_id=invitation.public_id,
        before={"email": invitation.email, "role": invitation.role},
    )
    db.session.delete(invitation)
    db.session.commit()


def open_invitation(token: str) -> Invitation:
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == token_hash(token))
    )
    if invitation is None or invitation.accepted_at is not None:
        raise NotFound("This invitation was already used or does not exist.")
    if invitation.expires_at <= utcnow():
        raise NotFound("This invitation has expired; ask for a new one.")
    return invitation


@dataclass(frozen=True, slots=True)
class NewAccount:
    name: str
    password: str


def accept_invitation(token: str, user: User | None, account: NewAccount | None) -> User:
    """Join the business: as the logged-in user, or with a new account for the invited email."""
    invitation = open_invitation(token)
    if user is None:
        if account is None:
            raise InvalidInput({"password": "Choose a password for your new account."})
        if db.session.scalar(select(User).where(User.email == invitation.email)) is not None:
            raise InvalidInput({"email": "An account with this email exists; log in to accept."})
        if (msg := check_strength(account.password)) is not None:
            raise InvalidInput({"password": msg})
        user = User(
            email=invitation.email,
            name=account.name.strip(),
            password_hash=hash_password(account.password),
        )
        db.session.add(user)
    elif user.email != invitation.email:
        raise Forbidden(f"This invitation is for {invitation.email}; log in with that email.")
    membership = Membership(user=user, business=invitation.business, role=invitation.role)
    invitation.accepted_at = utcnow()
    db.session.add(membership)
    db.session.flush()
    audit.record(
        business=invitation.business,
        actor=user,
        action="member.joined",
        entity_type="membership",
        entity_id=user.public_id,
        after={"email": user.email, "role": invitation.role},
    )
    db.session.commit()
    return user


def change_role(actor: Actor, user_public_id: str, role: Role) -> Membership:
    actor.require(Role.ADMIN)
    membership = _membership(actor, user_public_id)
    if membership.role is Role.OWNER or role is Role.OWNER:
        raise InvalidInput({"role": "The owner's role cannot be changed here."})
    if not actor.role.at_least(role) or not actor.role.at_least(membership.role):
        raise Forbidden("You cannot manage a role above your own.")
    before = {"role": membership.role}
    membership.role = role
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="member.role_changed",
        entity_type="membership",
        entity_id=user_public_id,
        before=before,
        after={"role": role},
    )
    db.session.commit()
    return membership


def remove_member(actor: Actor, user_public_id: str) -> None:
    actor.require(Role.ADMIN)
    membership = _membership(actor, user_public_id)
    if membership.role is Role.OWNER:
        raise InvalidInput({"role": "The owner cannot be removed."})
    if not actor.role.at_least(membership.role):
        raise Forbidden("You cannot remove a member above your own role.")
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="member.removed",
        entity_type="membership",
        entity_id=user_public_id,
        before={"email": membership.user.email, "role": membership.role},
    )
    db.session.delete(membership)
    db.session.commit()


def _membership(actor: Actor, user_public_id: str) -> Membership:
    membership = db.session.scalar(
        select(Membership)
        .join(User)
        .where(Membership.business_id == actor.business.id, User.public_id == user_public_id)
    )
    if membership is None:
        raise NotFound("No such member.")
    return membership
