"""The fixed windows and lists of LON: settling, SMS verification, retention and onboarding
days; the scenarios (適用情境清單, docs/notifications.md#applications), service types,
utilities and the field rules of templates."""

from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _

# Failures other than a phone mismatch show after 24 hours (docs/notifications.md#settling).
SETTLE_WINDOW = timedelta(hours=24)
# Condition 4: SMS verification within the last 6 months (calendar months).
SMS_VERIFICATION_MONTHS = 6
# How long the encrypted LINE-style hash of a settled notice is kept (webhook retries, the
# failed-notice export for SMS fallback), then purged by the beat-scheduled task.
RETENTION = timedelta(days=30)
# The onboarding takes 10–20 working days (docs/notifications.md#applications).
ONBOARDING_WORKING_DAYS = (10, 20)


# --- Scenarios (適用情境清單, docs/notifications.md#applications) -------------------------------


class Category(models.TextChoices):
    SHOPPING = "shopping", _("Shopping")
    ORDERING = "ordering", _("Ordering")
    RESERVATION = "reservation", _("Reservations")
    REGISTRATION = "registration", _("Registration / application")
    POINTS = "points", _("Points")
    PAYMENT = "payment", _("Payment")
    OTP = "otp", _("OTP")
    BILL = "bill", _("Bills")
    RENTAL = "rental", _("Rental")
    REMINDER = "reminder", _("Reminders")
    REPAIR = "repair", _("Repair")
    OUTAGE = "outage", _("Outage")
    ENQUIRY = "enquiry", _("Enquiry guidance")


class Scenario(models.TextChoices):
    DELIVERY = "delivery", _("1. Delivery notice")
    PURCHASE = "purchase", _("2. Purchase completed")
    CUSTOM_PRODUCT = "custom_product", _("3. Custom product made")
    RESERVATION = "reservation", _("4. Reservation made or cancelled")
    RESERVATION_REMINDER = "reservation_reminder", _("5. Reservation reminder")
    REGISTRATION = "registration", _("6. Registration completed")
    CARD_ISSUED = "card_issued", _("7. Bank card issued")
    ACCOUNT_OPENED = "account_opened", _("8. Bank account opened")
    POINTS = "points", _("9. Points earned")
    PAYMENT = "payment", _("10. Payment completed")
    OTP_SIGNUP = "otp_signup", _("11. OTP for member sign-up")
    BILL = "bill", _("12. Bill (periodic)")
    RENTAL_DUE = "rental_due", _("13. Rental due")
    CONTRACT_DEADLINE = "contract_deadline", _("14. Contract or application deadline reminder")
    PAYMENT_DEADLINE = "payment_deadline", _("15. Payment deadline reminder")
    REPAIR = "repair", _("16. Repair completed")
    OUTAGE = "outage", _("17. Outage or maintenance of utilities")
    ENQUIRY = "enquiry", _("18. Guidance to the enquiry channel")


SCENARIO_CATEGORY = {
    Scenario.DELIVERY: Category.SHOPPING,
    Scenario.PURCHASE: Category.SHOPPING,
    Scenario.CUSTOM_PRODUCT: Category.ORDERING,
    Scenario.RESERVATION: Category.RESERVATION,
    Scenario.RESERVATION_REMINDER: Category.RESERVATION,
    Scenario.REGISTRATION: Category.REGISTRATION,
    Scenario.CARD_ISSUED: Category.REGISTRATION,
    Scenario.ACCOUNT_OPENED: Category.REGISTRATION,
    Scenario.POINTS: Category.POINTS,
    Scenario.PAYMENT: Category.PAYMENT,
    Scenario.OTP_SIGNUP: Category.OTP,
    Scenario.BILL: Category.BILL,
    Scenario.RENTAL_DUE: Category.RENTAL,
    Scenario.CONTRACT_DEADLINE: Category.REMINDER,
    Scenario.PAYMENT_DEADLINE: Category.REMINDER,
    Scenario.REPAIR: Category.REPAIR,
    Scenario.OUTAGE: Category.OUTAGE,
    Scenario.ENQUIRY: Category.ENQUIRY,
}


class ServiceType(models.TextChoices):
    """What a reservation is for: scenarios 4 and 5 only for the first three."""

    RESTAURANT = "restaurant", _("Restaurant reservation")
    OFFLINE_SERVICE = "offline_service", _("Offline service")
    OFFLINE_EVENT = "offline_event", _("Offline event")
    OTHER = "other", _("Other")


RESERVATION_SERVICE_TYPES = (
    ServiceType.RESTAURANT,
    ServiceType.OFFLINE_SERVICE,
    ServiceType.OFFLINE_EVENT,
)
RESERVATION_SCENARIOS = (Scenario.RESERVATION, Scenario.RESERVATION_REMINDER)


class Utility(models.TextChoices):
    """Scenario 17 covers the infrastructure of power, gas and telecom only."""

    POWER = "power", _("Power")
    GAS = "gas", _("Gas")
    TELECOM = "telecom", _("Telecom")


class FieldKind(models.TextChoices):
    """Kinds of template fields and what the UX guideline says of them for an exempt template:
    ✕ may not be shown, △ must be masked (``FIELD_RULES``)."""

    TEXT = "text", _("Text")
    DATE = "date", _("Date / time")
    AMOUNT = "amount", _("Amount")
    ORDER_NUMBER = "order_number", _("Order or reference number")
    NAME = "name", _("Person's name")
    PHONE = "phone", _("Phone number")
    EMAIL = "email", _("E-mail address")
    ADDRESS = "address", _("Address")
    CARD_NUMBER = "card_number", _("Card number")
    ACCOUNT_NUMBER = "account_number", _("Bank account number")
    NATIONAL_ID = "national_id", _("National ID number")
    BIRTH_DATE = "birth_date", _("Date of birth")
    PASSWORD = "password", _("Password")


FORBIDDEN = "x"
MASKED = "mask"
FIELD_RULES = {
    FieldKind.NATIONAL_ID: FORBIDDEN,
    FieldKind.BIRTH_DATE: FORBIDDEN,
    FieldKind.PASSWORD: FORBIDDEN,
    FieldKind.NAME: MASKED,
    FieldKind.PHONE: MASKED,
    FieldKind.EMAIL: MASKED,
    FieldKind.ADDRESS: MASKED,
    FieldKind.CARD_NUMBER: MASKED,
    FieldKind.ACCOUNT_NUMBER: MASKED,
}
