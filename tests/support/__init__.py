"""Test helpers, one module per concern; import them from here (`from tests.support import X`).

- api: the GraphQL client over real HTTP/WebSocket, subscriptions, a second API process
- documents: GraphQL documents several test modules send
- factories: accounts, clients, imports, appointments, messages and forms over the real API
- onboarding: the client's onboarding steps
- mail: the file backend's folder, a real SMTP server, links in e-mails
- worker: real arq workers in this process or as a subprocess
- contract: the public contract and our schema as graphql-core schemas
- sqlite_lock: SQLite's write lock held by another connection
- paths, reliability: where things are; what fault tests measured for `make reliability`

Test modules import helpers only from here, never from another test module
(tests/test_suite_layout.py checks it).
"""

from tests.support.api import (
    Api,
    Subscription,
    api_process,
    assert_no_event,
    count_queries,
    live_subscriptions,
    socket_close_code,
    subscribe,
    subscribe_listening,
)
from tests.support.contract import CONTRACT, argument_default, contract_schema, our_schema
from tests.support.documents import (
    ACKNOWLEDGE,
    ADD_BILLING,
    ADD_CLIENT,
    APPOINTMENT_RESULT,
    AUTH_FIELDS,
    CLIENT,
    CLIENT_FIELDS,
    CLIENT_RESULT,
    CLIENT_UPDATED,
    CONFIRM,
    FORMS,
    IMPORT_FIELDS,
    ME,
    RESEND,
    SCHEDULE,
    SEND,
    SET_INSURANCE,
    START_IMPORT,
    UPDATE_PROFILE,
    VERIFY,
    VERIFY_EMAIL,
)
from tests.support.factories import (
    DEFAULT_FORMS,
    PASSWORD,
    accept_invitation,
    add_client,
    client_id_of,
    confirm,
    confirm_own_email,
    csv_bytes,
    ensure_default_forms,
    follow_confirmation,
    import_status,
    many,
    provider_id_of,
    schedule,
    send,
    sign_up_client,
    sign_up_provider,
    start_import,
)
from tests.support.mail import (
    SmtpInbox,
    link_token_of,
    mail_files,
    read_mail,
    read_mail_dir,
    smtp_server,
)
from tests.support.onboarding import (
    INSURANCE,
    acknowledge,
    add_billing,
    complete_onboarding,
    current_forms,
    set_insurance,
    verify,
)
from tests.support.paths import FIXTURES, REPO, SHARED
from tests.support.reliability import RELIABILITY_REPORT, record_outcome
from tests.support.sqlite_lock import write_lock_held_elsewhere
from tests.support.worker import run_worker, worker_process, worker_running

__all__ = [
    "ACKNOWLEDGE",
    "ADD_BILLING",
    "ADD_CLIENT",
    "APPOINTMENT_RESULT",
    "AUTH_FIELDS",
    "CLIENT",
    "CLIENT_FIELDS",
    "CLIENT_RESULT",
    "CLIENT_UPDATED",
    "CONFIRM",
    "CONTRACT",
    "DEFAULT_FORMS",
    "FIXTURES",
    "FORMS",
    "IMPORT_FIELDS",
    "INSURANCE",
    "ME",
    "PASSWORD",
    "RELIABILITY_REPORT",
    "REPO",
    "RESEND",
    "SCHEDULE",
    "SEND",
    "SET_INSURANCE",
    "SHARED",
    "START_IMPORT",
    "UPDATE_PROFILE",
    "VERIFY",
    "VERIFY_EMAIL",
    "Api",
    "SmtpInbox",
    "Subscription",
    "accept_invitation",
    "acknowledge",
    "add_billing",
    "add_client",
    "api_process",
    "argument_default",
    "assert_no_event",
    "client_id_of",
    "complete_onboarding",
    "confirm",
    "confirm_own_email",
    "contract_schema",
    "count_queries",
    "csv_bytes",
    "current_forms",
    "ensure_default_forms",
    "follow_confirmation",
    "import_status",
    "link_token_of",
    "live_subscriptions",
    "mail_files",
    "many",
    "our_schema",
    "provider_id_of",
    "read_mail",
    "read_mail_dir",
    "record_outcome",
    "run_worker",
    "schedule",
    "send",
    "set_insurance",
    "sign_up_client",
    "sign_up_provider",
    "smtp_server",
    "socket_close_code",
    "start_import",
    "subscribe",
    "subscribe_listening",
    "verify",
    "worker_process",
    "worker_running",
    "write_lock_held_elsewhere",
]
