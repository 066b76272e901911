"""Pure building of the pop-up text and push payload for a notice."""

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzfpy
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

from notifier.channel import Push

DEEP_LINK = "hexcast://notices/{notice_id}"
# The public view the app opens from the pop-up, under the deployment's public URL.
VIEW_PATH = "/v1/feed/notices/{notice_id}"
MAX_BODY_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Templates:
    """One language's pop-up wording, for notices that have no text of their own in it."""

    title: str
    body: str
    age: str
    update: str
    found_title: str
    found_body: str
    test: str
    exercise: str


# The first subtag of the device locale picks one, English otherwise. Dates and times in
# them are Babel's, for the device's full locale (en-GB and en-US write dates differently).
TEMPLATES: dict[str, Templates] = {
    "en": Templates(
        title="Missing person: {name}",
        body="{who}. Last seen {place}, {time}. {description}",
        age=", {age} years",
        update="Update: {title}",
        found_title="Found, thank you",
        found_body="The person in the alert of {date} has been found. Thank you.",
        test="TEST",
        exercise="EXERCISE",
    ),
    "zh": Templates(
        title="寻人启事：{name}",
        body="{who}。最后出现于{place}，{time}。{description}",
        age="，{age}岁",
        update="更新：{title}",
        found_title="已找到，谢谢",
        found_body="{date}发布的寻人启事中的人已经找到。谢谢您的关注。",
        test="测试",
        exercise="演习",
    ),
    "es": Templates(
        title="Persona desaparecida: {name}",
        body="{who}. Visto por última vez en {place}, {time}. {description}",
        age=", {age} años",
        update="Actualización: {title}",
        found_title="Encontrado, gracias",
        found_body="La persona de la alerta del {date} ha sido encontrada. Gracias.",
        test="PRUEBA",
        exercise="SIMULACRO",
    ),
    "fr": Templates(
        title="Personne disparue : {name}",
        body="{who}. Vu(e) pour la dernière fois à {place}, {time}. {description}",
        age=", {age} ans",
        update="Mise à jour : {title}",
        found_title="Retrouvé(e), merci",
        found_body="La personne de l'alerte du {date} a été retrouvée. Merci.",
        test="TEST",
        exercise="EXERCICE",
    ),
    "de": Templates(
        title="Vermisste Person: {name}",
        body="{who}. Zuletzt gesehen: {place}, {time}. {description}",
        age=", {age} Jahre",
        update="Aktualisierung: {title}",
        found_title="Gefunden, danke",
        found_body="Die Person aus der Meldung vom {date} wurde gefunden. Danke.",
        test="TEST",
        exercise="ÜBUNG",
    ),
    "ar": Templates(
        title="شخص مفقود: {name}",
        body="{who}. شوهد آخر مرة في {place}، {time}. {description}",
        age="، العمر {age}",
        update="تحديث: {title}",
        found_title="تم العثور عليه، شكرًا",
        found_body="تم العثور على الشخص المذكور في تنبيه {date}. شكرًا لكم.",
        test="اختبار",
        exercise="تمرين",
    ),
    "hi": Templates(
        title="लापता व्यक्ति: {name}",
        body="{who}। अंतिम बार {place} में देखा गया, {time}। {description}",
        age=", {age} वर्ष",
        update="अपडेट: {title}",
        found_title="मिल गए, धन्यवाद",
        found_body="{date} की सूचना वाले व्यक्ति मिल गए हैं। धन्यवाद।",
        test="परीक्षण",
        exercise="अभ्यास",
    ),
    "ja": Templates(
        title="行方不明者：{name}",
        body="{who}。最後の目撃：{place}、{time}。{description}",
        age="、{age}歳",
        update="更新：{title}",
        found_title="発見されました。ありがとうございました",
        found_body="{date}のアラートの方は発見されました。ご協力ありがとうございました。",
        test="テスト",
        exercise="訓練",
    ),
    "pt": Templates(
        title="Pessoa desaparecida: {name}",
        body="{who}. Vista pela última vez em {place}, {time}. {description}",
        age=", {age} anos",
        update="Atualização: {title}",
        found_title="Encontrada, obrigado",
        found_body="A pessoa do alerta de {date} foi encontrada. Obrigado.",
        test="TESTE",
        exercise="SIMULADO",
    ),
}
LANGUAGES = tuple(TEMPLATES)


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
    # IANA zone of the last seen place: times are shown as people there read their clocks.
    time_zone: str = "UTC"
    # The notice's own wording by language tag: {tag: {"headline", "description", …}}.
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def language_of(locale: str) -> str:
    lang = _subtags(locale)[0].lower()
    return lang if lang in TEMPLATES else "en"


def _subtags(locale: str) -> list[str]:
    return locale.replace("_", "-").split("-")


def babel_locale(locale: str) -> Locale:
    """The device's locale as Babel knows it; its language alone, or English, otherwise. A
    language without templates gets English dates too: the pop-up is in English then."""
    if language_of(locale) != _subtags(locale)[0].lower():
        return Locale("en")
    for tag in (locale, language_of(locale)):
        try:
            return Locale.parse("_".join(_subtags(tag)))
        except (ValueError, UnknownLocaleError):
            continue
    return Locale("en")


def time_zone_at(lat: float, lon: float) -> str:
    """The IANA time zone of a place (at sea, its nautical zone); UTC where none is known."""
    return tzfpy.get_tz(lon, lat) or "UTC"


def load_data() -> None:
    """Load the time zone map and each template language's CLDR data, which the first
    lookup otherwise loads (about a second): a worker does it as it starts, not during
    its first alert."""
    time_zone_at(0.0, 0.0)
    for language in TEMPLATES:
        where = babel_locale(language)
        format_date(datetime.now(UTC), "medium", locale=where)
        format_time(datetime.now(UTC), "short", locale=where)


def _zone(text: NoticeText) -> ZoneInfo:
    try:
        return ZoneInfo(text.time_zone)
    except (ValueError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")


def local_time(text: NoticeText, locale: str) -> str:
    """When the person was last seen, in the notice's time zone, as the device's locale
    writes a date and a time."""
    where = babel_locale(locale)
    at = text.last_seen_at.astimezone(_zone(text))
    # The locale's own way of joining a medium date and a short time ("{1}, {0}" in English).
    joined = str(where.datetime_formats["medium"])
    return joined.replace("{1}", format_date(at, "medium", locale=where)).replace(
        "{0}", format_time(at, "short", locale=where)
    )


def own_text(texts: Mapping[str, Mapping[str, str]], locale: str) -> Mapping[str, str]:
    """The notice's own wording for the device: its exact language tag, else its language."""
    by_tag = {tag.lower(): text for tag, text in texts.items()}
    exact = by_tag.get(locale.replace("_", "-").lower())
    if exact is not None:
        return exact
    language = _subtags(locale)[0].lower()
    return next((t for tag, t in by_tag.items() if _subtags(tag)[0] == language), {})


def render(text: NoticeText, locale: str) -> tuple[str, str]:
    """Title and body in the device's language: the notice's own headline and description
    in it when it has them (CAP info blocks, agency translations), templates otherwise."""
    lang = language_of(locale)
    templates = TEMPLATES[lang]
    own = own_text(text.texts, locale)
    who = text.person_name
    if text.person_age is not None:
        who += templates.age.format(age=text.person_age)
    rendered = templates.body.format(
        who=who,
        place=text.last_seen_place,
        time=local_time(text, locale),
        description=own.get("description") or text.description,
    )
    if len(rendered) > MAX_BODY_CHARS:
        rendered = rendered[: MAX_BODY_CHARS - 1] + "…"
    title = own.get("headline") or templates.title.format(name=text.person_name)
    return _marked(title, text, lang), rendered


def _marked(title: str, text: NoticeText, lang: str) -> str:
    marks = {"Test": TEMPLATES[lang].test, "Exercise": TEMPLATES[lang].exercise}
    if text.cap_status in marks:
        return f"[{marks[text.cap_status]}] {title}"
    return title


def render_found(text: NoticeText, locale: str) -> tuple[str, str]:
    lang = language_of(locale)
    date = format_date(
        text.last_seen_at.astimezone(_zone(text)), "long", locale=babel_locale(locale)
    )
    return _marked(TEMPLATES[lang].found_title, text, lang), TEMPLATES[lang].found_body.format(
        date=date
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
            title = TEMPLATES[language_of(locale)].update.format(title=title)
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
    """`build_push` for each (token, locale) of a batch, rendering each locale once."""
    by_locale: dict[str, Push] = {}
    pushes = []
    for token, locale in recipients:
        push = by_locale.get(locale)
        if push is None:
            push = by_locale[locale] = build_push(
                text, token=token, locale=locale, now=now, kind=kind
            )
        pushes.append(push if push.token == token else replace(push, token=token))
    return pushes
