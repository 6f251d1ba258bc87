"""Forms of a person's own account (signing up uses Django's ``UserCreationForm`` as it is)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.base_user import AbstractBaseUser


class DeleteAccountForm(forms.Form):
    # Asking for the password again means a session left open on a shared computer cannot erase the account.
    password = forms.CharField(
        label="Your current password", strip=False, max_length=4096, widget=forms.PasswordInput(render_value=False)
    )
    confirm = forms.BooleanField(
        label="I understand that my account, history, likes, playlists and uploads will be deleted for good."
    )

    def __init__(self, user: AbstractBaseUser, *args: object, **kwargs: object) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your current password.", code="password_incorrect")
        return password
