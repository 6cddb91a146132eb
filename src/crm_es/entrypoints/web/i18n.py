"""English and French: the catalog of every string a page shows, the language a request
asks for, and dates and amounts written the way each language writes them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from starlette.requests import Request

from crm_es.entrypoints.web.words import admin_ops, admin_setup, agenda, audit, dashboards, lists, records

LANG_COOKIE = "crm_es_lang"
LANGUAGES = ("en", "fr")
DEFAULT = "en"

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "app_name": "crm-es console",
        "dev_banner": "Open development mode: no API key exists yet, so anyone who reaches this server acts as an "
                      "administrator. Make a key (crm-es keys create) before opening it to anyone.",
        "nav_board": "Board",
        "language_other": "Français",
        "signed_in_as": "Signed in as",
        "sign_out": "Sign out",
        "sign_in_title": "Sign in",
        "api_key": "API key",
        "sign_in": "Sign in",
        "sign_in_needed": "Sign in with your API key to continue.",
        "sign_in_unknown": "This API key is unknown or revoked.",
        "sign_in_csrf": "The form had expired: please sign in again.",
        "sign_in_note": "Your session lasts 12 hours, or until the server restarts.",
        "board_title": "Pipeline board",
        "pipeline": "Pipeline",
        "no_pipeline": "There is no pipeline yet.",
        "as_of": "As of",
        "known_then": "as we knew it then",
        "show": "Show",
        "back_to_now": "Back to today",
        "as_of_notice_then": "This board is shown as it stood at the end of {date} (UTC), with only what had been "
                             "recorded by then. Nothing can be moved here.",
        "as_of_notice_now": "This board is shown as it stood at the end of {date} (UTC), with everything known today. "
                            "Nothing can be moved here.",
        "count": "deals",
        "count_one": "deal",
        "total": "Total",
        "weighted": "Weighted",
        "other_currencies": "{n} in other currencies, not in these totals",
        "unassigned": "Unassigned",
        "no_company": "No company",
        "days_in_stage": "{n} d in stage",
        "overdue": "Overdue: expected to close by {date}",
        "stale": "Stale: nothing for {n} days",
        "slide_back": "Back in time",
        "today": "today",
        "segment": "Segment",
        "every_segment": "Every segment",
        "invalid_segment": "a segment is at most 100 characters",
        "move_hint": "Drag a card to another column, or focus it and press ← or → to move it.",
        "moved_by": "This deal was moved meanwhile by",
        "moved_refreshed": "The card now shows where it is.",
        "move_failed": "The move was refused:",
        "team": "Team",
        "everyone": "Everyone",
        "every_team": "Every team",
        "outside_reach": "(outside your reach)",
        "win": "Won",
        "lose": "Lost",
        "lost_reason": "Why was it lost?",
        "mark_lost": "Mark as lost",
        "cancel": "Cancel",
        "win_confirm": "Mark “{title}” as won?",
        "close_failed": "The change was refused:",
        "record_title": "Contact",
        "name": "Name",
        "email": "E-mail",
        "phone": "Phone",
        "company": "Company",
        "owner": "Owner",
        "status": "Status",
        "tags": "Tags",
        "lead_score": "Lead score",
        "timeline": "Timeline",
        "no_events": "Nothing has happened here yet.",
        "by": "by",
        "occurred": "happened",
        "recorded": "recorded",
        "log_call": "Log a call",
        "summary": "Summary",
        "outcome": "Outcome",
        "duration_minutes": "Duration (minutes)",
        "save": "Save",
        "saved": "Saved.",
        "forbidden_title": "Not allowed",
        "forbidden_text": "Your key's role or reach does not allow this page.",
        "not_found_title": "Not found",
        "not_found_text": "There is no such record.",
        "invalid_title": "Invalid request",
        "invalid_date": "a date is written YYYY-MM-DD, and must exist",
        "invalid_id": "an id is a UUID",
        "invalid_language": "the language is en or fr",
        "error_title": "Something went wrong",
        "forgotten": "(forgotten)",
    },
    "fr": {
        "app_name": "Console crm-es",
        "dev_banner": "Mode développement ouvert : aucune clé d'API n'existe encore, donc toute personne qui atteint "
                      "ce serveur agit en administrateur. Créez une clé (crm-es keys create) avant de l'ouvrir à qui que ce soit.",
        "nav_board": "Tableau",
        "language_other": "English",
        "signed_in_as": "Connecté en tant que",
        "sign_out": "Se déconnecter",
        "sign_in_title": "Connexion",
        "api_key": "Clé d'API",
        "sign_in": "Se connecter",
        "sign_in_needed": "Connectez-vous avec votre clé d'API pour continuer.",
        "sign_in_unknown": "Cette clé d'API est inconnue ou révoquée.",
        "sign_in_csrf": "Le formulaire avait expiré : reconnectez-vous.",
        "sign_in_note": "La session dure 12 heures, ou jusqu'au redémarrage du serveur.",
        "board_title": "Tableau du pipeline",
        "pipeline": "Pipeline",
        "no_pipeline": "Il n'y a pas encore de pipeline.",
        "as_of": "Au",
        "known_then": "tel qu'on le savait alors",
        "show": "Afficher",
        "back_to_now": "Revenir à aujourd'hui",
        "as_of_notice_then": "Ce tableau est affiché tel qu'il était à la fin du {date} (UTC), avec seulement ce qui "
                             "avait été enregistré à cette date. Rien ne peut y être déplacé.",
        "as_of_notice_now": "Ce tableau est affiché tel qu'il était à la fin du {date} (UTC), avec tout ce que l'on "
                            "sait aujourd'hui. Rien ne peut y être déplacé.",
        "count": "affaires",
        "count_one": "affaire",
        "total": "Total",
        "weighted": "Pondéré",
        "other_currencies": "{n} dans d’autres devises, hors de ces totaux",
        "unassigned": "Non attribuée",
        "no_company": "Sans entreprise",
        "days_in_stage": "{n} j dans l'étape",
        "overdue": "En retard : clôture prévue le {date}",
        "stale": "En sommeil : rien depuis {n} jours",
        "slide_back": "Remonter le temps",
        "today": "aujourd'hui",
        "segment": "Segment",
        "every_segment": "Tous les segments",
        "invalid_segment": "un segment fait au plus 100 caractères",
        "move_hint": "Glissez une carte vers une autre colonne, ou sélectionnez-la et appuyez sur ← ou → pour la déplacer.",
        "moved_by": "Cette affaire a été déplacée entre-temps par",
        "moved_refreshed": "La carte montre maintenant où elle en est.",
        "move_failed": "Le déplacement a été refusé :",
        "team": "Équipe",
        "everyone": "Tout le monde",
        "every_team": "Toutes les équipes",
        "outside_reach": "(hors de votre portée)",
        "win": "Gagnée",
        "lose": "Perdue",
        "lost_reason": "Pourquoi a-t-elle été perdue ?",
        "mark_lost": "Marquer comme perdue",
        "cancel": "Annuler",
        "win_confirm": "Marquer « {title} » comme gagnée ?",
        "close_failed": "La modification a été refusée :",
        "record_title": "Contact",
        "name": "Nom",
        "email": "E-mail",
        "phone": "Téléphone",
        "company": "Entreprise",
        "owner": "Responsable",
        "status": "Statut",
        "tags": "Étiquettes",
        "lead_score": "Score",
        "timeline": "Historique",
        "no_events": "Rien ne s'est encore passé ici.",
        "by": "par",
        "occurred": "survenu",
        "recorded": "enregistré",
        "log_call": "Noter un appel",
        "summary": "Résumé",
        "outcome": "Résultat",
        "duration_minutes": "Durée (minutes)",
        "save": "Enregistrer",
        "saved": "Enregistré.",
        "forbidden_title": "Accès refusé",
        "forbidden_text": "Le rôle ou la portée de votre clé ne permet pas d'afficher cette page.",
        "not_found_title": "Introuvable",
        "not_found_text": "Cet enregistrement n'existe pas.",
        "invalid_title": "Requête invalide",
        "invalid_date": "une date s'écrit AAAA-MM-JJ, et doit exister",
        "invalid_id": "un identifiant est un UUID",
        "invalid_language": "la langue est en ou fr",
        "error_title": "Une erreur s'est produite",
        "forgotten": "(effacé)",
    },
}



def _merged(base: dict[str, dict[str, str]], *parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The catalog with each part's words added; a key defined twice is a mistake, caught at import."""
    merged = {lang: dict(words) for lang, words in base.items()}
    for part in parts:
        for lang, words in part.items():
            twice = merged[lang].keys() & words.keys()
            assert not twice, f"words defined twice: {sorted(twice)}"
            merged[lang].update(words)
    return merged


CATALOG = _merged(CATALOG, dashboards.WORDS, audit.WORDS, lists.WORDS, agenda.WORDS, records.WORDS, admin_setup.WORDS,
                  admin_ops.WORDS)

# Names of codes a page shows (roles, event types, event fields), by language; a code
# without one is shown as itself, its underscores as spaces.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "role.admin": "admin", "role.manager": "manager", "role.rep": "rep", "role.analyst": "analyst",
        "role.auditor": "auditor",
        "type.call": "Call", "type.note": "Note", "type.email_sent": "E-mail sent", "type.email_received": "E-mail received",
        "type.meeting_held": "Meeting held", "type.meeting_missed": "Meeting missed", "type.page_visited": "Page visited",
        "type.contact_registered": "Contact registered", "type.contact_changed": "Contact changed",
        "type.demo": "Demo", "type.voicemail": "Voicemail", "type.visit": "Visit", "type.quote_opened": "Quote opened",
        "type.email_opened": "E-mail opened", "type.email_clicked": "E-mail clicked", "type.email_bounced": "E-mail bounced",
        "type.sms_sent": "SMS sent", "type.document_sent": "Document sent",
        "type.contact_details_changed": "Details changed", "type.contact_status_changed": "Status changed",
        "type.contact_lifecycle_changed": "Lifecycle stage changed", "type.contact_owner_changed": "Owner changed",
        "type.contact_role_assigned": "Role assigned", "type.contact_role_ended": "Role ended",
        "type.contact_left_company": "Left the company", "type.contact_forgotten": "Forgotten",
        "type.contact_email_invalidated": "E-mail address invalid", "type.contact_email_revalidated": "E-mail address valid again",
        "type.deal_opened": "Deal opened", "type.deal_stage_changed": "Stage changed", "type.deal_won": "Deal won",
        "type.deal_lost": "Deal lost", "type.deal_reopened": "Deal reopened", "type.deal_amount_changed": "Amount changed",
        "type.deal_owner_changed": "Owner changed", "type.deal_details_changed": "Details changed",
        "type.deal_contact_forgotten": "A contact forgotten",
        "field.stage": "stage", "field.notes": "notes", "field.text": "text", "field.subject": "subject",
        "field.outcome": "outcome", "field.duration_seconds": "seconds", "field.duration_minutes": "minutes",
        "field.title": "title", "field.status": "status", "field.reason": "reason",
        "task.task": "Task", "task.call": "Call", "task.email": "E-mail", "task.meeting_on_site": "Meeting on site",
        "task.meeting_phone": "Phone meeting", "task.meeting_video": "Video meeting", "task.demo": "Demo",
        "task.customer_visit": "Customer visit",
        "deal_status.open": "open", "deal_status.won": "won", "deal_status.lost": "lost",
        "document.quote": "Quote", "document.contract": "Contract", "document.invoice": "Invoice",
    },
    "fr": {
        "role.admin": "administrateur", "role.manager": "manager", "role.rep": "commercial", "role.analyst": "analyste",
        "role.auditor": "auditeur",
        "type.call": "Appel", "type.note": "Note", "type.email_sent": "E-mail envoyé", "type.email_received": "E-mail reçu",
        "type.meeting_held": "Rendez-vous tenu", "type.meeting_missed": "Rendez-vous manqué",
        "type.page_visited": "Page visitée", "type.contact_registered": "Contact créé", "type.contact_changed": "Contact modifié",
        "type.demo": "Démo", "type.voicemail": "Message vocal", "type.visit": "Visite", "type.quote_opened": "Devis ouvert",
        "type.email_opened": "E-mail ouvert", "type.email_clicked": "Lien d'e-mail cliqué", "type.email_bounced": "E-mail rejeté",
        "type.sms_sent": "SMS envoyé", "type.document_sent": "Document envoyé",
        "type.contact_details_changed": "Coordonnées modifiées", "type.contact_status_changed": "Statut modifié",
        "type.contact_lifecycle_changed": "Étape du cycle de vie modifiée", "type.contact_owner_changed": "Responsable changé",
        "type.contact_role_assigned": "Rôle attribué", "type.contact_role_ended": "Rôle terminé",
        "type.contact_left_company": "A quitté l'entreprise", "type.contact_forgotten": "Effacé",
        "type.contact_email_invalidated": "Adresse e-mail invalide", "type.contact_email_revalidated": "Adresse e-mail de nouveau valide",
        "type.deal_opened": "Affaire ouverte", "type.deal_stage_changed": "Étape changée", "type.deal_won": "Affaire gagnée",
        "type.deal_lost": "Affaire perdue", "type.deal_reopened": "Affaire rouverte", "type.deal_amount_changed": "Montant modifié",
        "type.deal_owner_changed": "Responsable changé", "type.deal_details_changed": "Détails modifiés",
        "type.deal_contact_forgotten": "Un contact effacé",
        "field.stage": "étape", "field.notes": "notes", "field.text": "texte", "field.subject": "objet",
        "field.outcome": "résultat", "field.duration_seconds": "secondes", "field.duration_minutes": "minutes",
        "field.title": "titre", "field.status": "statut", "field.reason": "motif",
        "task.task": "Tâche", "task.call": "Appel", "task.email": "E-mail", "task.meeting_on_site": "Rendez-vous sur place",
        "task.meeting_phone": "Rendez-vous téléphonique", "task.meeting_video": "Visioconférence", "task.demo": "Démo",
        "task.customer_visit": "Visite client",
        "deal_status.open": "en cours", "deal_status.won": "gagnée", "deal_status.lost": "perdue",
        "document.quote": "Devis", "document.contract": "Contrat", "document.invoice": "Facture",
    },
}

MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "fr": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
}
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF", "JPY": "¥"}
NARROW_NBSP = "\u202f"  # French groups thousands with a narrow no-break space


def language(request: Request) -> str:
    """The cookie's choice if any, else the first language of Accept-Language we speak."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in sorted(_weighted(request.headers.get("accept-language", "")), key=lambda p: -p[1]):
        primary = part[0].split("-")[0].strip().lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT


def _weighted(header: str) -> list[tuple[str, float]]:
    out = []
    for item in header.split(","):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            out.append((tag, quality))
    return out


class Words:
    """The strings and formats of one language, as templates use them (``t.board_title``)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.strings = CATALOG[lang]

    def __getattr__(self, key: str) -> str:
        try:
            return self.strings[key]
        except KeyError:
            raise AttributeError(key) from None

    def label(self, kind: str, code: object) -> str:
        return LABELS[self.lang].get(f"{kind}.{code}", str(code).replace("_", " "))

    def day(self, value: date | datetime | str | None) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        month = MONTHS[self.lang][value.month - 1]
        return f"{value.day} {month} {value.year}"

    def moment(self, value: datetime | str | None) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return f"{self.day(value)} {value:%H:%M}"

    def money(self, amount: str | Decimal | None, currency: str | None) -> str:
        """``€12,000.00`` in English, ``12 000,00 €`` in French (the amount's own scale kept)."""
        if amount is None:
            return ""
        text = str(amount)
        sign = "-" if text.startswith("-") else ""
        whole, _, fraction = text.lstrip("-").partition(".")
        groups = f"{int(whole):,}"
        symbol = SYMBOLS.get(currency or "", currency or "")
        if self.lang == "fr":
            number = groups.replace(",", NARROW_NBSP) + ("," + fraction if fraction else "")
            return f"{sign}{number}\u00a0{symbol}".strip()
        number = groups + ("." + fraction if fraction else "")
        return f"{sign}{symbol}{number}" if len(symbol) == 1 else f"{sign}{number} {symbol}".strip()
