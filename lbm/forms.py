"""Forms of the pages outside the admin (the invitation's sign-in). They collect input; the
rules are the services'."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _


class InvitedRegistrationForm(UserCreationForm):
    """Sign-in name and password (Django's password rules) for the address that was invited."""

    email = forms.EmailField(
        label=_("e-mail address"), help_text=_("The address the invitation was sent to.")
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("email", "username")
