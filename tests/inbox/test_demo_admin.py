"""The Django admin stays for superusers, and the demo admin is one; admins invited through Manage are not
staff, and the app's own pages never send them to /admin/."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.services import user_set_password
from inbox.services.demo import demo_seed
from tests.factories import make_agent

pytestmark = pytest.mark.django_db


def test_the_demo_admin_is_a_superuser_who_opens_the_django_admin(client):
    seed = demo_seed()
    admin = next(a for a in seed.agents if a.role == User.Role.ADMIN)
    client.force_login(admin)

    assert admin.is_superuser and admin.is_staff
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("admin:inbox_label_changelist")).status_code == 200
    assert client.get(reverse("admin:inbox_cannedresponse_changelist")).status_code == 200
    assert [a.email for a in seed.agents if a.is_superuser or a.is_staff] == [admin.email]


def test_seeding_again_makes_an_older_staff_only_demo_admin_a_superuser_and_keeps_their_password(client):
    # given a demo admin from an older seed: staff, not superuser, with a password of their own
    demo_seed()
    admin = User.objects.get(email="admin@demo.backchannel.test")
    User.objects.filter(pk=admin.pk).update(is_superuser=False)
    user_set_password(user=admin, password="my own password")

    # when the quick start seeds again
    demo_seed()

    # then they are a superuser, with their own password still
    admin.refresh_from_db()
    assert admin.is_superuser and admin.is_staff
    assert client.login(email=admin.email, password="my own password")


def test_an_admin_who_is_not_staff_is_kept_out_of_the_django_admin_and_not_pointed_there(client):
    admin = make_agent(role=User.Role.ADMIN)
    client.force_login(admin)

    pages = [reverse(name) for name in ("inbox:home", "settings:canned", "settings:labels", "manage:agents")]
    texts = [client.get(url).content.decode() for url in pages]

    assert client.get("/admin/").status_code == 302  # to the admin site's own login
    assert not [url for url, text in zip(pages, texts, strict=True) if 'href="/admin/' in text]
