from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

# No namespace: these sit beside the names Django's auth templates use ("login", "password_change", ...).
# No password reset by e-mail: a self-hosted site has no mail server to rely on, and a reset page that
# cannot send mail only misleads. An administrator resets a password with `./musrec manage changepassword`.
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", views.password_change, name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("signup/", views.signup, name="signup"),
    path("data/", views.account_data, name="account_data"),
    path("data/download", views.account_data_download, name="account_data_download"),
    path("delete/", views.account_delete, name="account_delete"),
]
