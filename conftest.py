"""Fixtures shared by every app's tests: real node processes over the test database."""

import uuid

import pytest
from django.db import connection

from csms.testing import Api, Node, database_url_of, grant_send_calls

# The `admin_session` fixture: the admin driven over HTTP against a node.
pytest_plugins = ["stations.tests.admin_helpers"]


@pytest.fixture(scope="session", autouse=True)
def no_embedded_ca(tmp_path_factory):
    """Tests start without an embedded CA, whatever `make run` left in .csms-ca/: the ones that need
    a CA make their own (the nodes inherit the environment)."""
    import os

    from django.conf import settings

    directory = str(tmp_path_factory.mktemp("no-embedded-ca") / "absent")
    os.environ["CSMS_EMBEDDED_CA_DIR"] = directory
    settings.CSMS_EMBEDDED_CA_DIR = directory


@pytest.fixture(scope="session")
def test_database_url(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield database_url_of(connection.settings_dict)
        # psycopg's pool keeps idle connections that would block dropping the test database.
        if hasattr(connection, "close_pool"):
            connection.close_pool()


@pytest.fixture(scope="session")
def node(test_database_url):
    """A CSMS node (Daphne, as `python -m csms.node` runs it) sharing the test database."""
    started = Node(test_database_url).start()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def auto_register_node(test_database_url):
    started = Node(test_database_url, env={"CSMS_AUTO_REGISTER": "1"}).start()
    yield started
    started.stop()


@pytest.fixture
def staff_user(transactional_db, django_user_model):
    """An operator: staff, allowed to send Calls."""
    return grant_send_calls(django_user_model.objects.create_user(username=f"staff-{uuid.uuid4().hex[:8]}", is_staff=True))


@pytest.fixture
def api(node, staff_user):
    """The partner API as a staff user (sees everything)."""
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=staff_user)
    return Api(node.http, token.key)


@pytest.fixture
def make_station(transactional_db):
    """Register a station the way an operator would (Accepted unless told otherwise)."""
    from stations.models import ChargeStation

    def make(station_id=None, password=None, **fields):
        station = ChargeStation(id=station_id or f"CP-{uuid.uuid4().hex[:8]}", **fields)
        station.set_password(password)
        station.save()
        return station

    return make


@pytest.fixture
def make_id_tag(transactional_db):
    from transactions.id_tags import id_tag_create

    def make(id_tag=None, **fields):
        return id_tag_create(id_tag=id_tag or f"TAG{uuid.uuid4().hex[:8]}", **fields)

    return make


# --- `make faults`: the fault scenarios' figures as one table --------------------------------------


def pytest_sessionstart(session):
    from csms.testing_faults import REPORT_PATH

    REPORT_PATH.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    import json

    from csms.testing_faults import REPORT_PATH

    if not REPORT_PATH.exists():
        return
    rows = [json.loads(line) for line in REPORT_PATH.read_text().splitlines() if line.strip()]
    if not rows:
        return
    terminalreporter.section("fault scenarios")
    for row in rows:
        scenario = row.pop("scenario")
        figures = ", ".join(f"{key}={value}" for key, value in row.items())
        terminalreporter.write_line(f"{scenario:<45} {figures}")


# --- Emptying the test database while a node still writes ------------------------------------------
# A node keeps working a moment after a test ends (a disconnection recorded with its writer's next
# group, the message log's last flush): the TRUNCATE that empties the database for the next test can
# then meet it and deadlock. The node's side retries by itself; the flush is run again here.


def _patient_fixture_teardown():
    import time

    from django.db import OperationalError
    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def teardown(self):
        for attempt in range(5):
            try:
                return original(self)
            except Exception as exc:
                deadlock = isinstance(exc, OperationalError) or isinstance(exc.__cause__, OperationalError)
                if not deadlock or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    TransactionTestCase._fixture_teardown = teardown


_patient_fixture_teardown()
