"""The app's interface language: English msgids, Simplified Chinese from a gettext message catalogue.

Why gettext: it is the format the field uses (Django, Sphinx, Weblate, Transifex and Poedit all read .po files), a
translator sees each English text beside its Chinese one, and Python reads the compiled .mo with the standard
library alone. Babel (the dev extra) extracts the msgids from `_()` / `ngettext()` / `N_()` calls and compiles the
.mo (`make i18n`); the .mo is committed, so a fresh install needs nothing at run time, and tests/app/test_i18n.py
checks that it matches the .po and that every msgid has a translation.

The language is per browser session: the sidebar's selector. Its default is WORKBENCH_LANG=zh|en, else the
browser's language (st.context.locale, then the Accept-Language header), else English. Outside a Streamlit
script run (tests, background jobs) texts stay English. CLI messages are English and do not come here.
"""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path

LANGS = {"en": "English", "zh": "简体中文"}
LOCALES = {"zh": "zh_CN"}  # the catalogue folder of each language that has one
DOMAIN = "workbench"
LOCALE_DIR = Path(__file__).parent / "locale"
KEY = "wb_lang"  # the selector's session-state key


def N_(message: str) -> str:
    """Marks a text for extraction where it is defined (a constant); `_()` translates it where it is shown."""
    return message


@functools.cache
def catalogue(lang: str) -> gettext.NullTranslations:
    if lang not in LOCALES:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[LOCALES[lang]])


def language_of(tag: str | None) -> str | None:
    """'zh', 'zh-CN', 'zh_Hans', 'ZH' -> 'zh'; 'en-US' -> 'en'; anything else None. Every Chinese variant gets
    the Simplified interface: the only Chinese one there is."""
    base = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGS else None


def accept_language(header: str | None) -> str | None:
    """The first language of an Accept-Language header, by quality, that the app speaks."""
    ranked = []
    for n, part in enumerate((header or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, n, tag))
    return next((lang for *_rank, tag in sorted(ranked) if (lang := language_of(tag))), None)


def pick_language(env: str | None, locale: str | None, accept: str | None) -> str:
    """The default language: WORKBENCH_LANG, else the browser's language, else English."""
    return language_of(env) or language_of(locale) or accept_language(accept) or "en"


def default_language() -> str:
    import streamlit as st

    try:
        locale, accept = st.context.locale, st.context.headers.get("Accept-Language")
    except Exception:  # noqa: BLE001 - no browser behind this run (AppTest): English
        locale, accept = None, None
    return pick_language(os.environ.get("WORKBENCH_LANG"), locale, accept)


def current() -> str:
    """This browser session's language ('en' outside a script run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return "en"
    import streamlit as st

    lang = st.session_state.get(KEY)
    if lang not in LANGS:
        lang = default_language()
    return lang


def _(message: str) -> str:
    return catalogue(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalogue(current()).ngettext(singular, plural, n)


def shown_as(*texts: str):
    """A format_func that shows these option values (English msgids) translated and any other value as it is.
    Worded when called: Streamlit (and AppTest) may call a format_func outside the page's script run."""
    names = {t: _(t) for t in texts}
    return lambda value: names.get(value, value)


def language_selector() -> None:
    """The sidebar's language choice, labelled in both languages so either reader finds it."""
    import streamlit as st

    langs = list(LANGS)
    st.sidebar.selectbox("Language · 语言", langs, index=langs.index(current()), format_func=LANGS.get, key=KEY)
