"""Applications for notification messages: create, edit, submit, and LINE's review stages
(docs/notifications.md)."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import permissions, reviews
from lbm.exceptions import InvalidTransition
from lbm.models import Account
from lbm.permissions import Action
from lbm.workdays import add_working_days, taipei_date

from ..exceptions import ApplicationRefused
from ..models import ONBOARDING_WORKING_DAYS, Application, Scenario, Stage
from .common import _lock, _record

# --- Applications -----------------------------------------------------------------------------


def application_eligibility(account: Account) -> list[str]:
    """Why the account cannot use notification messages (empty: it can)."""
    problems = []
    if account.kind != Account.Kind.OFFICIAL_ACCOUNT:
        return [_("Only a LINE Official Account can send notification messages.")]
    if account.badge not in (Account.Badge.BLUE, Account.Badge.GREEN):
        problems.append(_("The Official Account must be verified (blue or green badge)."))
    provider = account.provider
    if provider is None or not provider.certified:
        problems.append(_("The Official Account needs a certified provider."))
    return problems


def _scenario_problems(scenarios) -> list[str]:
    if not isinstance(scenarios, list | tuple) or not scenarios:
        return [_("Choose at least one of the 18 notification scenarios.")]
    unknown = [s for s in scenarios if s not in Scenario.values]
    if unknown:
        return [
            _("Not a notification scenario: %(names)s.") % {"names": ", ".join(map(str, unknown))}
        ]
    return []


@transaction.atomic
def application_create(
    *, actor, account_id: int, scenarios: list[str], use_description: str = ""
) -> Application:
    """A customer (Admin or Operator) applies for an Official Account linked to their
    organization; refused unless the account has a blue or green badge and a certified
    provider."""
    account = Account.objects.select_related("provider").get(pk=account_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, account)
    problems = application_eligibility(account)
    if problems:
        raise ApplicationRefused(
            _("This Official Account cannot apply for notification messages."), details=problems
        )
    if Application.objects.filter(account=account).exists():
        raise ApplicationRefused(
            _("This Official Account already has a notification-message application.")
        )
    problems = _scenario_problems(scenarios)
    if problems:
        raise ApplicationRefused(problems[0])
    application = Application(
        account=account,
        scenarios=list(dict.fromkeys(scenarios)),
        use_description=use_description.strip(),
        created_by=actor,
    )
    _record(application, actor=actor, reason=_("Application created"))
    application.save()
    return application


FILE_FIELDS = {
    "purchase_agreement": (Stage.DRAFT, Stage.REJECTED, Stage.SCENARIO_REVIEW, Stage.CONTRACT),
    "nda": (Stage.DRAFT, Stage.REJECTED, Stage.SCENARIO_REVIEW, Stage.CONTRACT),
    "test_recording": (
        Stage.DRAFT,
        Stage.REJECTED,
        Stage.SCENARIO_REVIEW,
        Stage.CONTRACT,
        Stage.TESTING,
    ),
}


@transaction.atomic
def application_update(
    *,
    actor,
    application_id: int,
    scenarios: list[str] | None = None,
    use_description: str | None = None,
    files: dict | None = None,
) -> Application:
    """Edit the scenarios (while a draft or rejected) or upload the contract, NDA or test
    recording (until the stage that checks them). ``files`` maps a field name of
    ``FILE_FIELDS`` to an uploaded file."""
    application = _lock(Application.objects).get(pk=application_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, application)
    changed = []
    if scenarios is not None and list(scenarios) != application.scenarios:
        problems = _scenario_problems(scenarios)
        if problems:
            raise ApplicationRefused(problems[0])
        changed.append("scenarios")
        application.scenarios = list(dict.fromkeys(scenarios))
    if use_description is not None and use_description.strip() != application.use_description:
        changed.append("use_description")
        application.use_description = use_description.strip()
    if changed and application.stage not in Application.CUSTOMER_EDITABLE:
        raise ApplicationRefused(
            _(
                "The scenarios can be changed only while the application is "
                "a draft or has been rejected."
            )
        )
    for name, upload in (files or {}).items():
        if upload is None:
            continue
        if name not in FILE_FIELDS:
            raise ApplicationRefused(_("Unknown document."))
        if application.stage not in FILE_FIELDS[name]:
            raise ApplicationRefused(
                _("The %(document)s can no longer be replaced at the stage “%(stage)s”.")
                % {
                    "document": Application._meta.get_field(name).verbose_name,
                    "stage": application.get_stage_display(),
                }
            )
        getattr(application, name).save(upload.name, upload, save=False)
        changed.append(name)
        if name == "test_recording":
            application.test_recording_checked_at = None
            application.test_recording_checked_by = None
            changed += ["test_recording_checked_at", "test_recording_checked_by"]
    if not changed:
        return application
    labels = [
        str(Application._meta.get_field(n).verbose_name)
        for n in changed
        if not n.startswith("test_recording_checked")
    ]
    _record(
        application, actor=actor, reason=_("Edited: %(fields)s") % {"fields": ", ".join(labels)}
    )
    application.save(update_fields=changed + ["updated_at"])
    return application


@transaction.atomic
def application_submit(*, actor, application_id: int) -> Application:
    """Send a draft or rejected application to LINE's scenario review; the expected finish is
    10–20 Taiwan working days from now."""
    application = _lock(Application.objects).get(pk=application_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, application)
    if application.stage == Stage.SCENARIO_REVIEW:
        return application
    _check_transition(application, Stage.SCENARIO_REVIEW)
    account = Account.objects.select_related("provider").get(pk=application.account_id)
    problems = application_eligibility(account) + _scenario_problems(application.scenarios)
    if problems:
        raise ApplicationRefused(_("This application cannot be submitted."), details=problems)
    now = timezone.now()
    resubmission = application.stage == Stage.REJECTED
    application.stage = Stage.SCENARIO_REVIEW
    application.submitted_at = application.stage_changed_at = now
    start = taipei_date(now)
    application.expected_earliest = add_working_days(start, ONBOARDING_WORKING_DAYS[0])
    application.expected_latest = add_working_days(start, ONBOARDING_WORKING_DAYS[1])
    _record(
        application,
        actor=actor,
        reason=_("Resubmitted for review") if resubmission else _("Submitted for review"),
    )
    application.save(
        update_fields=[
            "stage",
            "submitted_at",
            "stage_changed_at",
            "expected_earliest",
            "expected_latest",
            "updated_at",
        ]
    )
    return application


def _check_transition(application: Application, target: str) -> None:
    if target not in Application.TRANSITIONS[application.stage]:
        raise InvalidTransition(application.get_stage_display(), str(Stage(target).label))


@transaction.atomic
def application_transition(
    *, actor, application_id: int, target: str, reason: str = ""
) -> Application:
    """A LINE reviewer moves an application: to its next stage, rejected (reason required),
    suspended or reinstated (reason required). Each change is in the history with who, when
    and why."""
    permissions.require(actor, Action.REVIEW_NOTIFICATIONS)
    application = _lock(Application.objects).get(pk=application_id)
    reason = reviews.clean_reason(reason)
    if application.stage == target:
        return application  # a repeated click
    if target not in Stage.values:
        raise ApplicationRefused(_("Unknown stage."))
    _check_transition(application, target)
    # The stage "rejected" is a rejection for lbm.reviews; suspending and reinstating need a
    # reason too (docs/notifications.md#applications).
    reviews.require_reason(
        target,
        reason,
        error=ApplicationRefused,
        required=target == Stage.SUSPENDED
        or (application.stage == Stage.SUSPENDED and target == Stage.LIVE),
    )
    update = ["stage", "stage_changed_at", "updated_at"]
    now = timezone.now()
    if target == Stage.TESTING and not (application.purchase_agreement and application.nda):
        raise ApplicationRefused(
            _("The signed purchase agreement and NDA must be on file before testing.")
        )
    if target == Stage.LIVE and application.stage == Stage.TESTING:
        if not application.test_recording:
            raise ApplicationRefused(
                _("The recording of the test must be uploaded and checked before going live.")
            )
        application.test_recording_checked_at = now
        application.test_recording_checked_by = actor
        update += ["test_recording_checked_at", "test_recording_checked_by"]
    if target == Stage.LIVE:
        account = Account.objects.select_related("provider").get(pk=application.account_id)
        problems = application_eligibility(account)
        if problems:
            raise ApplicationRefused(_("This Official Account cannot go live."), details=problems)
    previous = application.get_stage_display()
    application.stage = target
    application.stage_changed_at = now
    reviews.stage_record(
        application,
        old_label=previous,
        new_label=application.get_stage_display(),
        reason=reason,
        actor=actor,
        update_fields=update,
    )
    return application


def application_advance(*, actor, application_id: int, reason: str = "") -> Application:
    """Scenario review → contract → testing → live."""
    stage = Application.objects.values_list("stage", flat=True).get(pk=application_id)
    if stage not in Application.NEXT:
        raise ApplicationRefused(_("Only an application under review can move to its next stage."))
    return application_transition(
        actor=actor, application_id=application_id, target=Application.NEXT[stage], reason=reason
    )


def application_reject(*, actor, application_id: int, reason: str) -> Application:
    return application_transition(
        actor=actor, application_id=application_id, target=Stage.REJECTED, reason=reason
    )


def application_suspend(*, actor, application_id: int, reason: str) -> Application:
    return application_transition(
        actor=actor, application_id=application_id, target=Stage.SUSPENDED, reason=reason
    )


def application_reinstate(*, actor, application_id: int, reason: str) -> Application:
    stage = Application.objects.values_list("stage", flat=True).get(pk=application_id)
    if stage != Stage.SUSPENDED:
        raise ApplicationRefused(_("Only a suspended application can be reinstated."))
    return application_transition(
        actor=actor, application_id=application_id, target=Stage.LIVE, reason=reason
    )
