# ruff: noqa: RUF001 - Hebrew letters are the point of this file
"""Interface text of the dashboard, English and Hebrew. A missing Hebrew key falls back
to English, a missing key altogether shows the key (visible in review, never a crash)."""

from datetime import datetime

from iwm.core import clock

DEFAULT_LANGUAGE = "en"
RTL_LANGUAGES = frozenset({"he", "ar"})
LANGUAGE_NAMES = {"en": "English", "he": "עברית"}
# Names of kiosk languages in their own language, for the kiosk settings list.
KIOSK_LANGUAGE_NAMES = {
    "en": "English",
    "fr": "Français",
    "es": "Español",
    "de": "Deutsch",
    "it": "Italiano",
    "he": "עברית",
    "ru": "Русский",
    "ar": "العربية",
    "pt": "Português",
    "uk": "Українська",
}

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app_name": "IWM Partner",
        "nav_new_orders": "New orders",
        "nav_history": "Orders history",
        "nav_kiosks": "Kiosks",
        "logout": "Log out",
        "interface_language": "Interface language",
        "login_title": "Partner sign in",
        "email": "Email",
        "password": "Password",
        "sign_in": "Sign in",
        "signed_out": "You have been signed out.",
        "session_expired": "Your session has expired. Please sign in again.",
        "bad_credentials": "Wrong email or password.",
        "two_factor_code": "Two-factor code (if turned on)",
        "two_factor_required": "Enter the code from your authenticator app.",
        "two_factor_wrong": "That code is not right. Try the current one.",
        "account_disabled": "This account is disabled.",
        "rate_limited": "Too many attempts. Please wait a minute and try again.",
        "not_partner": "This dashboard is for partner (shop) accounts only.",
        "csrf_failed": "This form has expired. Reload the page and try again.",
        "today": "Today",
        "counter_all": "orders",
        "counter_printed": "printed",
        "no_new_orders": "No new orders right now. New orders appear here by themselves.",
        "live_hint": "Updates automatically",
        "status_printed": "Printed",
        "status_not_printed": "Not printed",
        "mark_printed": "Mark printed",
        "mark_not_printed": "Mark not printed",
        "open_photo": "Full photo",
        "print": "Print",
        "back": "Back",
        "customer": "Customer",
        "kiosk": "Kiosk",
        "shop": "Shop",
        "created": "Created",
        "status": "Status",
        "phone": "Phone",
        "photo": "Photo",
        "just_now": "just now",
        "min_ago": "{n} min ago",
        "h_ago": "{n} h ago",
        "d_ago": "{n} d ago",
        "filter": "Filter",
        "reset": "Reset",
        "all_statuses": "All statuses",
        "date_from": "From",
        "date_to": "To",
        "customer_name": "Customer name",
        "customer_email": "Customer email",
        "all_kiosks": "All kiosks",
        "no_orders": "No orders match these filters.",
        "page_of": "Page {page} of {pages} · total: {total}",
        "previous": "Previous",
        "next": "Next",
        "online": "Online",
        "offline": "Offline",
        "kiosk_status_active": "Active",
        "kiosk_status_inactive": "Inactive",
        "kiosk_status_error": "Error",
        "last_seen": "Last heartbeat",
        "today_revenue": "Today online (rounds · amount)",
        "cash_balance": "Cash to collect (rounds · amount)",
        "never": "never",
        "kiosk_language": "Kiosk language",
        "save": "Save",
        "kiosk_status": "Kiosk status",
        "issue_code": "Issue free-round code",
        "code_title": "Free-round code",
        "code_type_cash": "Cash",
        "code_type_error": "Error compensation",
        "code_type": "Type",
        "code_expires": "Valid until",
        "last_errors": "Last errors",
        "no_errors": "No errors reported.",
        "clear_error": "Clear error",
        "cleared": "cleared",
        "current_error": "Current error",
        "no_kiosks": "No kiosks yet.",
        "location": "Location",
        "details": "Details",
        "error_title": "Something went wrong",
        "page_not_found": "This page does not exist.",
        "order_not_found": "This order does not exist or is not yours.",
        "kiosk_not_found": "This kiosk does not exist or is not yours.",
        "invalid_request": "Some of the values sent are not valid.",
        "unsupported_language": "This language is not supported.",
        "no_free_code": "Every 4-digit code is in use on this kiosk. Try again later.",
        "saved": "Saved.",
        "go_to_login": "Go to sign in",
        "go_home": "Back to new orders",
        "email_or_name": "Customer",
    },
    "he": {
        "app_name": "IWM שותפים",
        "nav_new_orders": "הזמנות חדשות",
        "nav_history": "היסטוריית הזמנות",
        "nav_kiosks": "קיוסקים",
        "logout": "התנתקות",
        "interface_language": "שפת הממשק",
        "login_title": "כניסת שותפים",
        "email": "דוא״ל",
        "password": "סיסמה",
        "sign_in": "כניסה",
        "signed_out": "התנתקת מהמערכת.",
        "session_expired": "פג תוקף ההתחברות. נא להתחבר מחדש.",
        "bad_credentials": "דוא״ל או סיסמה שגויים.",
        "two_factor_code": "קוד אימות דו-שלבי (אם הופעל)",
        "two_factor_required": "נא להזין את הקוד מאפליקציית האימות.",
        "two_factor_wrong": "הקוד שגוי. נא לנסות את הקוד הנוכחי.",
        "account_disabled": "החשבון הזה מושבת.",
        "rate_limited": "יותר מדי ניסיונות. נא להמתין דקה ולנסות שוב.",
        "not_partner": "לוח הבקרה מיועד לחשבונות שותפים (חנויות) בלבד.",
        "csrf_failed": "תוקף הטופס פג. נא לטעון את הדף מחדש ולנסות שוב.",
        "today": "היום",
        "counter_all": "הזמנות",
        "counter_printed": "הודפסו",
        "no_new_orders": "אין הזמנות חדשות כרגע. הזמנות חדשות יופיעו כאן מעצמן.",
        "live_hint": "מתעדכן אוטומטית",
        "status_printed": "הודפס",
        "status_not_printed": "לא הודפס",
        "mark_printed": "סמן כמודפס",
        "mark_not_printed": "סמן כלא מודפס",
        "open_photo": "תמונה מלאה",
        "print": "הדפסה",
        "back": "חזרה",
        "customer": "לקוח",
        "kiosk": "קיוסק",
        "shop": "חנות",
        "created": "נוצרה",
        "status": "סטטוס",
        "phone": "טלפון",
        "photo": "תמונה",
        "just_now": "הרגע",
        "min_ago": "לפני {n} דק׳",
        "h_ago": "לפני {n} שע׳",
        "d_ago": "לפני {n} ימים",
        "filter": "סינון",
        "reset": "איפוס",
        "all_statuses": "כל הסטטוסים",
        "date_from": "מתאריך",
        "date_to": "עד תאריך",
        "customer_name": "שם הלקוח",
        "customer_email": "דוא״ל הלקוח",
        "all_kiosks": "כל הקיוסקים",
        "no_orders": "אין הזמנות שמתאימות לסינון.",
        "page_of": "עמוד {page} מתוך {pages} · סה״כ: {total}",
        "previous": "הקודם",
        "next": "הבא",
        "online": "מחובר",
        "offline": "לא מחובר",
        "kiosk_status_active": "פעיל",
        "kiosk_status_inactive": "לא פעיל",
        "kiosk_status_error": "תקלה",
        "last_seen": "דופק אחרון",
        "today_revenue": "היום אונליין (סבבים · סכום)",
        "cash_balance": "מזומן לגבייה (סבבים · סכום)",
        "never": "אף פעם",
        "kiosk_language": "שפת הקיוסק",
        "save": "שמירה",
        "kiosk_status": "מצב הקיוסק",
        "issue_code": "הנפקת קוד לסבב חינם",
        "code_title": "קוד לסבב חינם",
        "code_type_cash": "מזומן",
        "code_type_error": "פיצוי על תקלה",
        "code_type": "סוג",
        "code_expires": "בתוקף עד",
        "last_errors": "תקלות אחרונות",
        "no_errors": "לא דווחו תקלות.",
        "clear_error": "ניקוי תקלה",
        "cleared": "טופלה",
        "current_error": "תקלה נוכחית",
        "no_kiosks": "אין עדיין קיוסקים.",
        "location": "מיקום",
        "details": "פרטים",
        "error_title": "משהו השתבש",
        "page_not_found": "הדף הזה לא קיים.",
        "order_not_found": "ההזמנה לא קיימת או שאינה שלך.",
        "kiosk_not_found": "הקיוסק לא קיים או שאינו שלך.",
        "invalid_request": "חלק מהערכים שנשלחו אינם תקינים.",
        "unsupported_language": "השפה הזו אינה נתמכת.",
        "no_free_code": "כל הקודים בני 4 הספרות תפוסים בקיוסק הזה. נסו שוב מאוחר יותר.",
        "saved": "נשמר.",
        "go_to_login": "למסך הכניסה",
        "go_home": "חזרה להזמנות החדשות",
        "email_or_name": "לקוח",
    },
}

# The shop's screen (print queue, alerts, search, trouble strip, codes). Keys starting
# with "js_" are also given to dashboard.js.
MESSAGES["en"].update(
    {
        "to_print": "to print",
        "print_and_mark": "Print and mark",
        "print_all": "Print all unprinted",
        "print_selected": "Print selected",
        "mark_selected": "Mark selected printed",
        "clear_selection": "Clear selection",
        "select_order": "Select order",
        "enable_sound": "Enable sound",
        "sound_on": "Sound on",
        "enable_notifications": "Notify me",
        "notifications_on": "Notifications on",
        "notifications_blocked": "Notifications are blocked in this browser",
        "older_unprinted": "{n} older unprinted",
        "older_unprinted_title": "Older unprinted orders",
        "older_unprinted_hint": (
            "Not printed, and older than {hours} h: no longer on the new orders screen."
        ),
        "search_placeholder": "Name, email, phone or order number",
        "search": "Search",
        "more_filters": "More filters",
        "paper": "Paper",
        "paper_letter": "Letter",
        "print_settings": "Print settings",
        "pages": "Pages",
        "no_older_unprinted": (
            "No older unprinted orders: everything waiting is on the new orders screen."
        ),
        "copies": "Copies",
        "order_no": "Order",
        "kiosk_trouble_error": "{kiosk}: error",
        "kiosk_trouble_offline": "{kiosk}: offline",
        "kiosk_trouble_since": "since {when}",
        "issue_code_short": "Free-round code…",
        "issue_code_confirm": "Issue a free-round code for {kiosk}?",
        "issue_code_yes": "Issue code",
        "cancel": "Cancel",
        "code_will_be": "Code type: {type}.",
        "code_help_cash": (
            "Cash: for a customer who paid you in cash. The kiosk counts the round in its"
            " cash book."
        ),
        "code_help_error": (
            "Error compensation: a free round for a customer let down by a kiosk fault."
        ),
        "issued_codes": "Issued codes",
        "no_codes": "No codes issued in the last days.",
        "code_unused": "unused, valid until {when}",
        "code_used": "used {when}",
        "code_expired": "expired",
        "status_error_by_kiosk": "Error is set by the kiosk itself; clear it once fixed.",
        "js_offline": "Offline: reconnecting…",
        "js_undo": "Undo",
        "js_marked": "Marked printed: {n}",
        "js_unmarked": "Marked not printed again.",
        "js_new_order": "New order #{number}",
        "js_print_failed": "The photo could not be loaded for printing.",
        "js_not_saved": "Not saved: no connection to the server. Try again in a moment.",
        "js_selected": "{n} selected",
    }
)
MESSAGES["he"].update(
    {
        "to_print": "להדפסה",
        "print_and_mark": "הדפס וסמן",
        "print_all": "הדפס את כל הלא מודפסות",
        "print_selected": "הדפס נבחרות",
        "mark_selected": "סמן נבחרות כמודפסות",
        "clear_selection": "נקה בחירה",
        "select_order": "בחר הזמנה",
        "enable_sound": "הפעל צליל",
        "sound_on": "צליל פעיל",
        "enable_notifications": "הודע לי",
        "notifications_on": "התראות פעילות",
        "notifications_blocked": "התראות חסומות בדפדפן זה",
        "older_unprinted": "{n} ישנות שלא הודפסו",
        "older_unprinted_title": "הזמנות ישנות שלא הודפסו",
        "older_unprinted_hint": "לא הודפסו וישנות מ-{hours} שעות: כבר לא במסך ההזמנות החדשות.",
        "search_placeholder": "שם, אימייל, טלפון או מספר הזמנה",
        "search": "חיפוש",
        "more_filters": "מסננים נוספים",
        "paper": "נייר",
        "paper_letter": "מכתב (Letter)",
        "print_settings": "הגדרות הדפסה",
        "pages": "עמודים",
        "no_older_unprinted": "אין הזמנות ישנות שלא הודפסו: כל מה שממתין נמצא במסך ההזמנות החדשות.",
        "copies": "עותקים",
        "order_no": "הזמנה",
        "kiosk_trouble_error": "{kiosk}: תקלה",
        "kiosk_trouble_offline": "{kiosk}: לא מחובר",
        "kiosk_trouble_since": "מאז {when}",
        "issue_code_short": "קוד לסבב חינם…",
        "issue_code_confirm": "להנפיק קוד לסבב חינם עבור {kiosk}?",
        "issue_code_yes": "הנפק קוד",
        "cancel": "ביטול",
        "code_will_be": "זה יהיה קוד מסוג {type}.",
        "code_help_cash": "מזומן: ללקוח ששילם לך במזומן. הקיוסק רושם את הסבב בספר המזומנים שלו.",
        "code_help_error": "פיצוי על תקלה: סבב חינם ללקוח שנפגע מתקלה בקיוסק.",
        "issued_codes": "קודים שהונפקו",
        "no_codes": "לא הונפקו קודים בימים האחרונים.",
        "code_unused": "לא נוצל, בתוקף עד {when}",
        "code_used": "נוצל {when}",
        "code_expired": "פג תוקף",
        "status_error_by_kiosk": "מצב תקלה נקבע על ידי הקיוסק עצמו; נקו אותו לאחר התיקון.",
        "js_offline": "אין חיבור: מתחבר מחדש…",
        "js_undo": "ביטול",
        "js_marked": "סומנו כמודפסות: {n}",
        "js_unmarked": "סומנו שוב כלא מודפסות.",
        "js_new_order": "הזמנה חדשה #{number}",
        "js_print_failed": "לא ניתן לטעון את התמונה להדפסה.",
        "js_not_saved": "לא נשמר: אין חיבור לשרת. נסו שוב בעוד רגע.",
        "js_selected": "{n} נבחרו",
    }
)


def js_messages(lang: str) -> dict[str, str]:
    """The texts dashboard.js shows, in the interface language."""
    keys = [k for k in MESSAGES[DEFAULT_LANGUAGE] if k.startswith("js_")]
    return {k[3:]: translate(lang, k) for k in keys}


# Error codes of the services, shown as interface text rather than the English message.
ERROR_MESSAGES = {
    "ORDER_NOT_FOUND": "order_not_found",
    "KIOSK_NOT_FOUND": "kiosk_not_found",
    "NOT_FOUND": "page_not_found",
    "VALIDATION_ERROR": "invalid_request",
    "RATE_LIMITED": "rate_limited",
    "INVALID_CREDENTIALS": "bad_credentials",
    "TWO_FACTOR_REQUIRED": "two_factor_required",
    "INVALID_TWO_FACTOR_CODE": "two_factor_wrong",
    "ACCOUNT_SUSPENDED": "account_disabled",
    "FORBIDDEN": "not_partner",
    "UNAUTHORIZED": "session_expired",
    "CSRF_FAILED": "csrf_failed",
    "NO_FREE_CODE": "no_free_code",
}


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The interface language: the saved choice, else the browser's, else English."""
    if cookie in MESSAGES:
        return cookie
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in MESSAGES:
            return code
    return DEFAULT_LANGUAGE


def translate(lang: str, key: str, **values: object) -> str:
    text = MESSAGES.get(lang, {}).get(key) or MESSAGES[DEFAULT_LANGUAGE].get(key) or key
    return text.format(**values) if values else text


def age(lang: str, when: datetime) -> str:
    """How long ago, in the coarse units a shop counter cares about."""
    minutes = int((clock.now() - when).total_seconds() // 60)
    if minutes < 1:
        return translate(lang, "just_now")
    if minutes < 60:  # noqa: PLR2004 - minutes in an hour
        return translate(lang, "min_ago", n=minutes)
    if minutes < 24 * 60:
        return translate(lang, "h_ago", n=minutes // 60)
    return translate(lang, "d_ago", n=minutes // (24 * 60))
