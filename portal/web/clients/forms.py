"""The client form and its contact rows."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional

from portal.services.clients import ClientData, ContactData
from portal.services.validation import currency_choices
from portal.web.forms import stop_if_missing

LANGUAGES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}


class ContactForm(Form):
    """One contact row; a row left blank is ignored."""

    name = StringField("Contact name", validators=[Optional(), Length(max=120)])
    email = EmailField("Contact email", validators=[Optional(), Email(), Length(max=254)])
    phone = StringField("Contact phone", validators=[Optional(), Length(max=40)])
    is_primary = BooleanField("Primary billing contact")


class ClientForm(FlaskForm):
    name = StringField("Client name", validators=[InputRequired(), Length(max=200)])
    email = EmailField("Billing email", validators=[Optional(), Email(), Length(max=254)])
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    tax_id = StringField("Tax id", validators=[Optional(), Length(max=50)])
    currency = SelectField("Currency")
    payment_terms_days = IntegerField(
        "Payment terms (days)",
        default=30,
        validators=[InputRequired(), stop_if_missing, NumberRange(min=0, max=365)],
    )
    language = SelectField("Language", choices=LANGUAGES, default="en")
    tags = StringField(
        "Tags", description="Separate tags with commas.", validators=[Length(max=400)]
    )
    notes = TextAreaField("Notes", validators=[Length(max=5000)])
    reminders_paused = BooleanField(
        "Pause reminders",
        description="No payment reminders go to this client until you clear this.",
    )
    billing_line1 = StringField("Address", validators=[Length(max=200)])
    billing_line2 = StringField("Address line 2", validators=[Length(max=200)])
    billing_city = StringField("City", validators=[Length(max=100)])
    billing_postal_code = StringField("Postal code", validators=[Length(max=20)])
    billing_country = StringField("Country (2 letters)", validators=[Optional(), Length(2, 2)])
    shipping_line1 = StringField("Address", validators=[Length(max=200)])
    shipping_line2 = StringField("Address line 2", validators=[Length(max=200)])
    shipping_city = StringField("City", validators=[Length(max=100)])
    shipping_postal_code = StringField("Postal code", validators=[Length(max=20)])
    shipping_country = StringField("Country (2 letters)", validators=[Optional(), Length(2, 2)])
    contacts = FieldList(FormField(ContactForm), min_entries=1, max_entries=20)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = currency_choices()

    def to_data(self) -> ClientData:
        def text(name: str) -> str:
            return str(self._fields[name].data or "")

        tags = tuple(t.strip() for t in text("tags").split(",") if t.strip())
        contacts = tuple(
            ContactData(
                name=entry.form.name.data or "",
                email=entry.form.email.data or "",
                phone=entry.form.phone.data or "",
                is_primary=bool(entry.form.is_primary.data),
            )
            for entry in self.contacts.entries
        )
        return ClientData(
            name=text("name"),
            email=text("email"),
            phone=text("phone"),
            tax_id=text("tax_id"),
            currency=text("currency"),
            payment_terms_days=int(self.payment_terms_days.data or 0),
            language=text("language"),
            notes=text("notes"),
            billing_line1=text("billing_line1"),
            billing_line2=text("billing_line2"),
            billing_city=text("billing_city"),
            billing_postal_code=text("billing_postal_code"),
            billing_country=text("billing_country"),
            shipping_line1=text("shipping_line1"),
            shipping_line2=text("shipping_line2"),
            shipping_city=text("shipping_city"),
            shipping_postal_code=text("shipping_postal_code"),
            shipping_country=text("shipping_country"),
            tags=tags,
            contacts=contacts,
            reminders_paused=bool(self.reminders_paused.data),
        )
