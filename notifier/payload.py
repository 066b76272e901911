"""Pure building of the pop-up text and push payload for a notice."""

from dataclasses import dataclass
from datetime import UTC, datetime

from notifier.channel import Push

DEEP_LINK = "hexcast://notices/{notice_id}"
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
_AGE: dict[str, str] = {
    "en": ", {age} years",
    "zh": "，{age}岁",
    "es": ", {age} años",
    "fr": ", {age} ans",
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
    title = title.format(name=text.person_name)
    if text.cap_status in _NOT_ACTUAL[lang]:
        title = f"[{_NOT_ACTUAL[lang][text.cap_status]}] {title}"
    return title, rendered


def build_push(text: NoticeText, *, token: str, locale: str, now: datetime) -> Push:
    """The pop-up for one device; it expires with the notice and replaces earlier ones for it."""
    title, body = render(text, locale)
    return Push(
        token=token,
        title=title,
        body=body,
        data={
            "type": "missing_person",
            "notice_id": text.notice_id,
            "link": DEEP_LINK.format(notice_id=text.notice_id),
            "cap_status": text.cap_status,
        },
        collapse_key=text.notice_id,
        ttl_seconds=max(0, int((text.expires_at - now).total_seconds())),
        image_url=text.photo_url,
    )
