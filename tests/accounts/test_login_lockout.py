"""Guessing a staff password: after a few failures the account is locked out from that address, with
a page that says when to try again; the same account elsewhere, and other accounts, still log in."""
import pytest

pytestmark = pytest.mark.django_db

PASSWORD = "pw-curator-123"  # staff_user's
ATTACKER = "192.0.2.66"


def log_in(client, password, *, username="curator", address=ATTACKER, url="/login/"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_wrong_passwords_lock_the_account_out_from_that_address(client, staff_user, settings, url):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong", url=url).status_code == 200  # the form again, with its error
    assert log_in(client, "wrong", url=url).status_code == 429

    response = log_in(client, PASSWORD, url=url)
    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    assert "Too many failed logins for this account from your address. Try again in 15 minutes, after" in page
    assert 'role="alert"' in page and 'name="password"' in page  # the login page, not a bare refusal
    assert response["Retry-After"] == str(15 * 60)


def test_the_account_still_logs_in_from_another_address(client, staff_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD, address="198.51.100.7").status_code == 302
    assert logged_in(client)


def test_other_accounts_still_log_in_from_that_address(client, staff_user, django_user_model, settings):
    django_user_model.objects.create_user(username="editor", password="pw-editor-456", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")
    assert log_in(client, "pw-editor-456", username="editor").status_code == 302
    assert logged_in(client)


def test_a_success_forgets_earlier_failures(client, staff_user, settings):
    """A curator who mistypes now and then is never locked out by failures spread over weeks."""
    for _ in range(2):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            log_in(client, "wrong")
        assert log_in(client, PASSWORD).status_code == 302
        client.logout()
