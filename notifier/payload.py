"""Pure building of the pop-up text and push payload for a notice."""

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from notifier.channel import Push

DEEP_LINK = "hexcast://notices/{notice_id}"
# The public view the app opens from the pop-up, under the deployment's public URL.
VIEW_PATH = "/v1/feed/notices/{notice_id}"
MAX_BODY_CHARS = 1000

# Title and body per language; the first subtag of the device locale picks one, English otherwise.
_TEXTS: dict[str, tuple[str, str]] = {
    "en": ("Missing person: {name}", "{who}. Last seen {place}, {time}. {description}"),
    "zh": ("寻人启事：{name}", "{who}。最后出现于{place}，{time}。{description}"),
    "es": (
        "Persona desaparecida: {name}",
        "{who}. Visto por última vez en {place}, {time}. {description}",
    ),
    "fr": (
        "Personne disparue : {name}",
        "{who}. Vu(e) pour la dernière fois à {place}, {time}. {description}",
    ),
}
# A Test or Exercise pop-up says so before anything else, in the device's language: a drill
# must never be mistaken for a real alert.
_NOT_ACTUAL: dict[str, dict[str, str]] = {
    "en": {"Test": "TEST", "Exercise": "EXERCISE"},
    "zh": {"Test": "测试", "Exercise": "演习"},
    "es": {"Test": "PRUEBA", "Exercise": "SIMULACRO"},
    "fr": {"Test": "TEST", "Exercise": "EXERCICE"},
}
_UPDATE_TITLE: dict[str, str] = {
    "en": "Update: {title}",
    "zh": "更新：{title}",
    "es": "Actualización: {title}",
    "fr": "Mise à jour : {title}",
}
# No name and no photo: a found person's identity leaves every public output.
_FOUND: dict[str, tuple[str, str]] = {
    "en": ("Found, thank you", "The person in the alert of {date} has been found. Thank you."),
    "zh": ("已找到，谢谢", "{date}发布的寻人启事中的人已经找到。谢谢您的关注。"),
    "es": (
        "Encontrado, gracias",
        "La persona de la alerta del {date} ha sido encontrada. Gracias.",
    ),
    "fr": ("Retrouvé(e), merci", "La personne de l'alerte du {date} a été retrouvée. Merci."),
}
_AGE: dict[str, str] = {
    "en": ", {age} years",
    "zh": "，{age}岁",
    "es": ", {age} años",
    "fr": ", {age} ans",
}


class PushKind(enum.StrEnum):
    """Why a device gets a push: the first alert, a changed notice, or the happy ending."""

    ALERT = "alert"
    UPDATE = "update"
    FOUND = "found"


_DATA_TYPE = {
    PushKind.ALERT: "missing_person",
    PushKind.UPDATE: "missing_person_update",
    PushKind.FOUND: "missing_person_found",
}


@dataclass(frozen=True, slots=True)
class NoticeText:
    """What a pop-up needs to know of a notice."""

    notice_id: str
    person_name: str
    person_age: int | None
    description: str
    last_seen_place: str
    last_seen_at: datetime
    photo_url: str | None
    expires_at: datetime
    cap_status: str = "Actual"
    public_url: str = ""


def language_of(locale: str) -> str:
    lang = locale.replace("_", "-").split("-", 1)[0].lower()
    return lang if lang in _TEXTS else "en"


def render(text: NoticeText, locale: str) -> tuple[str, str]:
    """Title and body in the device's language."""
    lang = language_of(locale)
    title, body = _TEXTS[lang]
    who = text.person_name
    if text.person_age is not None:
        who += _AGE[lang].format(age=text.person_age)
    rendered = body.format(
        who=who,
        place=text.last_seen_place,
        # Loaded from PostgreSQL, the time is in the session's time zone, not always UTC.
        time=text.last_seen_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        description=text.description,
    )
    if len(rendered) > MAX_BODY_CHARS:
        rendered = rendered[: MAX_BODY_CHARS - 1] + "…"
    return _marked(title.format(name=text.person_name), text, lang), rendered


def _marked(title: str, text: NoticeText, lang: str) -> str:
    if text.cap_status in _NOT_ACTUAL[lang]:
        return f"[{_NOT_ACTUAL[lang][text.cap_status]}] {title}"
    return title


def render_found(text: NoticeText, locale: str) -> tuple[str, str]:
    lang = language_of(locale)
    title, body = _FOUND[lang]
    return _marked(title, text, lang), body.format(
        date=text.last_seen_at.astimezone(UTC).strftime("%Y-%m-%d")
    )


def build_push(
    text: NoticeText,
    *,
    token: str,
    locale: str,
    now: datetime,
    kind: PushKind = PushKind.ALERT,
) -> Push:
    """The pop-up for one device; it expires with the notice and replaces earlier ones for it
    (same collapse key), so an update or the found message takes the alert's place."""
    if kind == PushKind.FOUND:
        title, body = render_found(text, locale)
    else:
        title, body = render(text, locale)
        if kind == PushKind.UPDATE:
            title = _UPDATE_TITLE[language_of(locale)].format(title=title)
    return Push(
        token=token,
        title=title,
        body=body,
        data={
            "type": _DATA_TYPE[kind],
            "notice_id": text.notice_id,
            "link": DEEP_LINK.format(notice_id=text.notice_id),
            "view": text.public_url + VIEW_PATH.format(notice_id=text.notice_id),
            "cap_status": text.cap_status,
        },
        collapse_key=text.notice_id,
        ttl_seconds=max(0, int((text.expires_at - now).total_seconds())),
        image_url=None if kind == PushKind.FOUND else text.photo_url,
    )


def build_pushes(
    text: NoticeText,
    recipients: Sequence[tuple[str, str]],
    *,
    now: datetime,
    kind: PushKind = PushKind.ALERT,
) -> list[Push]:
    """`build_push` for each (token, locale) of a batch, rendering each language once."""
    by_language: dict[str, Push] = {}
    pushes = []
    for token, locale in recipients:
        language = language_of(locale)
        push = by_language.get(language)
        if push is None:
            push = by_language[language] = build_push(
                text, token=token, locale=locale, now=now, kind=kind
            )
        pushes.append(push if push.token == token else replace(push, token=token))
    return pushes
