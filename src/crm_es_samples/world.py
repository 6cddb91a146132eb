"""The sample seller's world, shared by the demo and the generator: the vocabulary their
records are written in.

Who sells (Lumen Software: its e-mail domain and website, its two pipelines and their
stages, the custom properties its records fill), to whom (names, cities, phone shapes,
job titles, where leads come from), what (products and their prices, renewed contracts,
discounts) and how deals end (the reasons they are lost, the competitors that win them);
then what the interactions say (the pages of the website, the notes, subjects and texts).

Pure data and one helper (``slug``); it imports nothing but the aggregates' value types.
What the demo alone tells (its teams, its fifteen companies, how its deals end) stays in
``demo.py``; the generator's own shapes in ``generate/``.
"""

from __future__ import annotations

import unicodedata

from crm_es.aggregates.setup import PropertyDefinition

# ==== who sells =======================================================================

REP_EMAIL_DOMAIN = "lumen-software.example"  # the company using the CRM
SITE = f"https://www.{REP_EMAIL_DOMAIN}"

NEW_BUSINESS, RENEWALS = "New business", "Renewals"

# pipeline -> its stages in order, with the win probability of each
PIPELINES = {
    NEW_BUSINESS: [
        ("Contact", "0.10"),
        ("Qualification", "0.20"),
        ("Demo", "0.40"),
        ("Proposal", "0.60"),
        ("Negotiation", "0.80"),
        ("Signature", "0.90"),
    ],
    RENEWALS: [
        ("Renewal due", "0.60"),
        ("Account review", "0.70"),
        ("Offer sent", "0.80"),
        ("Awaiting signature", "0.95"),
    ],
}

# The record configuration: custom properties the records fill. The statuses, sources, tags
# and roles the records use are all in the configured defaults (aggregates/setup.py), kept as they are.
LICENCE_PRICE = 600  # a seat a year: a licence deal's `licences`
INTERESTS = ("pipeline management", "marketing automation", "reporting", "mobile app", "integrations")
PROPERTIES = [
    PropertyDefinition("contact", "language", "choice", choices=("fr", "en", "de", "es", "it")),
    PropertyDefinition("contact", "interests", "multi_choice", choices=INTERESTS),
    PropertyDefinition("company", "employees", "number"),
    PropertyDefinition("deal", "licences", "number"),
]

# ==== to whom =========================================================================

BILLING_CURRENCY = {"GB": "GBP", "US": "USD"}  # everyone else is billed in EUR

# Potential tag from annual revenue: (at least, tag), highest first
POTENTIAL = [(20_000_000, "Gold"), (5_000_000, "Silver"), (0, "Bronze")]

FIRST_NAMES = {
    "FR": ["Camille", "Julien", "Élodie", "Nicolas", "Sandrine", "Mathieu", "Aurélie", "Thomas", "Isabelle", "Laurent",
           "Nathalie", "Sébastien", "Céline", "Antoine", "Manon", "Pierre", "Chloé", "Vincent", "Audrey", "Olivier"],
    "EN": ["Oliver", "Emma", "James", "Charlotte", "Daniel", "Sarah", "Michael", "Emily", "David", "Hannah", "Ryan",
           "Jessica"],
    "DE": ["Lukas", "Anna", "Felix", "Lena", "Jonas", "Katrin", "Stefan", "Julia"],
    "ES": ["Javier", "Lucía", "Carlos", "Marta", "Pablo", "Elena"],
    "IT": ["Marco", "Giulia", "Luca", "Francesca", "Matteo", "Chiara"],
}
LAST_NAMES = {
    "FR": ["Lefèvre", "Moreau", "Girard", "Fontaine", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel",
           "Perrin", "Morin", "Clément", "Gauthier", "Dumont", "Lopez", "Fournier", "Mercier", "Peeters", "Lambert"],
    "EN": ["Thompson", "Walker", "Hughes", "Patel", "Wright", "Robinson", "Clarke", "Carter", "Mitchell", "Turner"],
    "DE": ["Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Wagner"],
    "ES": ["García", "Martínez", "Romero", "Navarro", "Torres"],
    "IT": ["Rossi", "Bianchi", "Ferrari", "Colombo", "Ricci"],
}
NAME_POOL = {"FR": "FR", "BE": "FR", "GB": "EN", "US": "EN", "DE": "DE", "ES": "ES", "IT": "IT"}

# Phone number shapes per country ('#' is a digit); the US ones are 555-01xx, reserved for fiction.
PHONES = {
    "FR": "+33 6 ## ## ## ##",
    "BE": "+32 4## ## ## ##",
    "GB": "+44 7### ######",
    "US": "+1 617 555 01##",
    "DE": "+49 15# #######",
    "ES": "+34 6## ### ###",
    "IT": "+39 3## ### ####",
}

CITIES = {
    "FR": ["Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux", "Lille", "Nantes", "Montpellier", "Rennes"],
    "BE": ["Brussels", "Antwerp", "Ghent", "Liège"],
    "GB": ["London", "Manchester", "Leeds", "Bristol"],
    "US": ["Boston", "Cambridge", "Providence"],
    "DE": ["Stuttgart", "Munich", "Karlsruhe"],
    "ES": ["Seville", "Madrid", "Málaga"],
    "IT": ["Milan", "Turin", "Bergamo"],
}

DECISION_MAKER_TITLES = ["CEO", "Managing Director", "Founder", "General Manager"]
JOB_TITLES = ["Purchasing Manager", "Head of Sales", "Marketing Manager", "IT Director", "Office Manager",
              "Finance Director", "Operations Manager", "Sales Assistant", "Customer Service Lead", "Accountant",
              "Project Manager", "CTO"]
BILLING_TITLES = {"Finance Director", "Accountant"}

# (value, weight)
SOURCES = [("trade show", 3), ("referral", 3), ("web form", 4), ("website", 3), ("e-shop", 2),
           ("social network", 2), ("ads", 2)]

# ==== what, and how deals end =========================================================

# (product, lowest, highest amount): new-business deals sell one of these
PRODUCTS = [
    ("CRM licences", 6_000, 60_000),
    ("Marketing automation add-on", 4_000, 25_000),
    ("Onboarding package", 3_000, 12_000),
    ("Data migration", 5_000, 30_000),
    ("Premium support plan", 4_000, 18_000),
    ("Sales training programme", 2_500, 9_000),
]
RENEWAL_AMOUNTS = (4_000, 45_000)
RENEWED_CONTRACTS = ["CRM licences", "Premium support plan", "Marketing automation add-on", "Hosting"]

LOST_REASONS = ["Price too high", "Chose a competitor", "No budget this year", "Project postponed",
                "No answer after the proposal", "Went with an in-house solution", "Not the right fit"]
RENEWAL_LOST_REASONS = ["Switched to a competitor", "Budget cut", "Company downsized"]
REOPENED_REASONS = ["Project postponed", "No budget this year"]  # losses that come back to life
COMPETITOR_REASONS = {"Chose a competitor", "Switched to a competitor"}  # these name who won (`lost_to`)
COMPETITORS = ["Salesforce", "HubSpot", "Pipedrive", "Zoho CRM", "Sellsy"]

# A deal that reaches this stage is sometimes discounted there.
DISCOUNT_STAGES = {"Negotiation", "Offer sent"}
DISCOUNTS = [5, 8, 10, 12, 15]  # percent

# ==== what the interactions say =======================================================

PAGES = [
    ("/", "Lumen CRM — the CRM for growing sales teams"),
    ("/pricing", "Pricing"),
    ("/features/pipeline", "Pipeline management"),
    ("/features/marketing-automation", "Marketing automation"),
    ("/features/reporting", "Reports and dashboards"),
    ("/integrations", "Integrations"),
    ("/customers", "Customer stories"),
    ("/security", "Security and GDPR"),
    ("/blog/weekly-pipeline-review", "How to run a weekly pipeline review"),
    ("/blog/crm-migration-checklist", "A CRM migration checklist"),
    ("/demo", "Book a demo"),
]
# Where a session's first page came from (None: typed in, a bookmark); later pages come from the one before.
REFERRERS = [("https://www.google.com/", 5), ("https://www.linkedin.com/", 2), ("https://www.bing.com/", 1), (None, 3)]
WEB_SOURCES = {"web form", "website", "e-shop", "ads", "social network"}  # leads who browse the site more

FIRST_NOTES = {  # what the rep wrote down when the contact came in, by source
    "trade show": "Met at our stand at the trade show; wants a follow-up once the fair is over.",
    "referral": "Referred by one of our customers; already knows the product a little.",
    "web form": "Filled in the contact form asking about pricing for their team.",
    "website": "Downloaded the CRM buyer's guide from the website.",
    "e-shop": "Bought a starter pack on the e-shop; may need more seats.",
    "social network": "Got in touch after our LinkedIn post on pipeline reviews.",
    "ads": "Came in through the spring ad campaign.",
}
WELCOME_SUBJECTS = ["Nice to meet you", "Following up on your request", "Lumen CRM: the documents you asked for"]
QUESTIONS = ["Question about our invoice", "Access for a new colleague", "Exporting our contacts",
             "Training session dates", "Re: Lumen CRM newsletter"]
INBOUND_CALL_NOTES = ["Asked how to add users.", "Wanted the new price list.",
                      "Problem with the mobile app; sent to support.", "Asked for a reference customer in their sector."]
LATER_NOTES = ["Prefers e-mail to phone calls.", "On leave until the end of the month.",
               "New budget cycle starts in January.", "Their IT team is moving to a new ERP this year."]
SMS_TEXTS = ["Running ten minutes late, see you shortly.", "Thanks for your time today — the slides are in your inbox.",
             "Reminder: our call tomorrow at 10:00."]
BOUNCE_REASON = "550 5.1.1 user unknown"


def slug(text: str) -> str:
    """'Léa Dubois' -> 'lea-dubois' (for e-mail addresses)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text.lower()).split())
