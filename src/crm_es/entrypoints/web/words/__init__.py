"""The strings of each part of the console, English and French, one module a part (each
``WORDS = {"en": {...}, "fr": {...}}``; i18n.CATALOG merges them and refuses a key twice)."""
