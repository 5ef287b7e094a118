"""GraphQL documents and result selections that several test modules send."""

from __future__ import annotations

AUTH_FIELDS = """
__typename
... on AuthSuccess { token expiresAt viewer { id email role } }
... on MutationError { code message }
... on InputError { fields { field message } }
"""


VERIFY_EMAIL = f"mutation($i: VerifyEmailInput!) {{ verifyEmail(input: $i) {{ {AUTH_FIELDS} }} }}"

CLIENT_FIELDS = """
id legalFirstName legalLastName preferredName displayName email emailVerified mobilePhone
dateOfBirth insurance { carrier memberId dateOfBirth } billingMethod { brand last4 }
onboarding { emailVerified insuranceAdded billingAdded formsAcknowledged missingSteps complete invitedAt }
archived archivedAt addedAt addedVia viewerCanEdit editLockedReason
"""

ADD_CLIENT = f"""
mutation($i: AddClientInput!) {{ addClient(input: $i) {{
  __typename
  ... on AddClientSuccess {{ alreadyInList linkedExistingAccount client {{ {CLIENT_FIELDS} }} }}
  ... on MutationError {{ code message }}
  ... on InputError {{ fields {{ field message }} }}
}} }}
"""


IMPORT_FIELDS = """
id fileName format status dryRun totalRows processedRows createdCount linkedCount
alreadyInListCount duplicateCount errorCount warningCount ignoredColumns failureReason
columnMapping { field column } createdAt startedAt finishedAt
"""

START_IMPORT = f"""
mutation($i: StartClientImportInput!) {{ startClientImport(input: $i) {{
  __typename
  ... on StartClientImportSuccess {{ clientImport {{ {IMPORT_FIELDS} }} }}
  ... on ImportFileError {{ code message missingColumns foundColumns }}
  ... on MutationError {{ code message }}
}} }}
"""


CLIENT_RESULT = f"""
  __typename
  ... on ClientSuccess {{ client {{ {CLIENT_FIELDS} }} }}
  ... on MutationError {{ code message }}
  ... on InputError {{ fields {{ field message }} }}
"""
VERIFY = VERIFY_EMAIL
RESEND = f"mutation($id: ID!) {{ resendInvitation(clientId: $id) {{ {CLIENT_RESULT} }} }}"
UPDATE_PROFILE = (
    f"mutation($i: UpdateMyProfileInput!) {{ updateMyProfile(input: $i) {{ {CLIENT_RESULT} }} }}"
)
SET_INSURANCE = (
    f"mutation($i: InsuranceInput!) {{ setMyInsurance(input: $i) {{ {CLIENT_RESULT} }} }}"
)
ADD_BILLING = (
    f"mutation($i: BillingMethodInput!) {{ addMyBillingMethod(input: $i) {{ {CLIENT_RESULT} }} }}"
)
ACKNOWLEDGE = (
    f"mutation($i: AcknowledgeFormsInput!) {{ acknowledgeForms(input: $i) {{ {CLIENT_RESULT} }} }}"
)
FORMS = "{ forms { id kind version title body } }"
CLIENT_UPDATED = f"subscription {{ clientUpdated {{ {CLIENT_FIELDS} }} }}"
CLIENT = f"query($id: ID!) {{ client(id: $id) {{ {CLIENT_FIELDS} }} }}"

APPOINTMENT_RESULT = """
  __typename
  ... on AppointmentSuccess { appointment { id startsAt endsAt status
      client { id displayName } provider { id displayName } } }
  ... on MutationError { code message }
  ... on InputError { fields { field message } }
  ... on OnboardingIncompleteError { missingSteps }
"""
SCHEDULE = (
    "mutation($i: ScheduleAppointmentInput!) "
    f"{{ scheduleAppointment(input: $i) {{ {APPOINTMENT_RESULT} }} }}"
)
CONFIRM = f"mutation($id: ID!) {{ confirmAppointment(id: $id) {{ {APPOINTMENT_RESULT} }} }}"

SEND = """
mutation($i: SendMessageInput!) { sendMessage(input: $i) {
  __typename
  ... on MessageSuccess { message { id body sentAt senderRole readAt }
      thread { id unreadCount lastMessageAt provider { id displayName } client { id } } }
  ... on MutationError { code reason: message }
  ... on InputError { fields { field message } }
} }
"""
ME = "{ me { provider { id } client { id } } }"
