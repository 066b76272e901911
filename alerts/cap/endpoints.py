"""CAP routes: agencies post CAP alerts and read their notices as CAP; anyone reads active
notices as CAP and the Atom feed of them."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse

from alerts.accounts.service import agency_actor
from alerts.cap import atom, messages, service, signatures
from alerts.cap.schemas import CapCertificate, CapCertificateOut
from alerts.changes.endpoints import PENDING_CHANGE_RESPONSE, pending_change
from alerts.deps import (
    AdminOnly,
    AgencyWriter,
    OperatorActor,
    ReadableNotice,
    ReplicaSessionDep,
    SessionDep,
)
from alerts.errors import DomainError
from alerts.fields import ErrorOut, error_responses
from alerts.notices.schemas import NoticeOut

router = APIRouter(tags=["CAP"])

ACCEPTED_MEDIA_TYPES = (messages.MEDIA_TYPE, "application/xml", "text/xml")

EXAMPLE = (messages.SCHEMA_PATH.parent / "cap-missing-person-example.xml").read_text()

FEED_CACHE_SECONDS = 30


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"


async def cap_document(request: Request) -> bytes:
    """The request body, read no further than one byte past the size limit."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ACCEPTED_MEDIA_TYPES:
        raise UnsupportedMediaType(f"send the CAP document as {messages.MEDIA_TYPE}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > messages.MAX_DOCUMENT_BYTES:
            break
    return bytes(body)


CapDocument = Annotated[bytes, Depends(cap_document)]

_CAP_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "Not well-formed XML, or XML with a DOCTYPE"),
        (413, "Larger than 1 MiB"),
        (415, "Not sent as application/cap+xml"),
        (
            422,
            "Not valid CAP 1.2, nothing hexcast can act on, or (for an agency with a "
            "certificate) not signed or not verified; the detail says why",
        ),
    )
}


def _xml(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {media_type: {"schema": {"type": "string"}}}, "description": description}
    }


@router.post(
    "/v1/cap/alerts",
    status_code=status.HTTP_201_CREATED,
    response_model=NoticeOut,
    responses={
        200: {"model": NoticeOut, "description": "An Update or Cancel changed its notice"},
        **PENDING_CHANGE_RESPONSE,
        **_CAP_ERRORS,
        **error_responses(401, 403, 404, 409),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {messages.MEDIA_TYPE: {"schema": {"type": "string"}, "example": EXAMPLE}},
        }
    },
    summary="Post a CAP 1.2 message: an Alert submits a notice, an Update or Cancel changes one",
)
def import_cap_alert(
    key: AgencyWriter, document: CapDocument, session: SessionDep, response: Response
) -> NoticeOut | JSONResponse:
    """An Alert becomes a pending notice (201). An Update changes the description, photo or
    areas of the notice its `references` name, and an active notice reaches the devices newly
    in its area; a Cancel cancels it (200). References name the agency's own earlier
    messages. An Update that widens or rewords an approved Actual notice waits for an
    operator's approval (202, a pending change), as a PATCH does. See the README's CAP
    section for which elements become which fields."""
    notice, created, change = service.import_cap_alert(
        session, agency=key.agency, actor=agency_actor(key), document=document
    )
    if change is not None:
        return pending_change(change)
    if not created:
        response.status_code = status.HTTP_200_OK
    return NoticeOut.from_notice(notice)


@router.get(
    "/v1/notices/{notice_id}/cap",
    response_class=Response,
    responses={
        **_xml(messages.MEDIA_TYPE, "The notice as a CAP 1.2 alert"),
        **error_responses(401, 403, 404),
    },
    summary="Read a notice as a CAP 1.2 alert (its agency, or an operator)",
)
def notice_cap(notice: ReadableNotice, session: SessionDep) -> Response:
    """An Alert, an Update once the agency changed it, a Cancel once cancelled; a notice not
    approved yet (or rejected) has status Draft."""
    return Response(service.notice_as_cap(session, notice=notice), media_type=messages.MEDIA_TYPE)


@router.get(
    "/v1/feed/notices/{notice_id}/cap",
    response_class=Response,
    responses={
        **_xml(messages.MEDIA_TYPE, "The active notice as a CAP 1.2 alert"),
        **error_responses(404),
    },
    summary="Read an active notice as a CAP 1.2 alert (public)",
)
def public_notice_cap(notice_id: uuid.UUID, session: ReplicaSessionDep) -> Response:
    """Active `Actual` notices only; the last-seen point is rounded to about 100 m."""
    document = service.active_notice_as_cap(session, notice_id=notice_id)
    return Response(document, media_type=messages.MEDIA_TYPE)


@router.get(
    "/v1/feed/active.atom",
    response_class=Response,
    responses=_xml(atom.MEDIA_TYPE, "Atom feed; each entry holds its CAP alert"),
    summary="Active notices as an Atom feed of CAP alerts, newest first (public)",
)
def active_feed(request: Request, session: ReplicaSessionDep) -> Response:
    """At most 50 entries, the most recently approved first; Test and Exercise notices are
    never listed. Links start with HEXCAST_PUBLIC_BASE_URL."""
    document = service.active_feed(
        session,
        feed_path=request.app.url_path_for("active_feed"),
        cap_path=lambda notice_id: request.app.url_path_for(
            "public_notice_cap", notice_id=notice_id
        ),
    )
    return Response(
        document,
        media_type=atom.MEDIA_TYPE,
        headers={"Cache-Control": f"public, max-age={FEED_CACHE_SECONDS}"},
    )


PEM_MEDIA_TYPE = "application/x-pem-file"


@router.put(
    "/v1/operator/agencies/{agency_id}/cap-certificate",
    response_model=CapCertificateOut,
    responses={
        **error_responses(401, 403, 404),
        422: {"model": ErrorOut, "description": "Not a PEM certificate with an RSA or EC key"},
    },
    dependencies=[AdminOnly],
    summary="Register the certificate an agency's CAP messages must be signed with (admins)",
)
def set_cap_certificate(
    agency_id: uuid.UUID, data: CapCertificate, session: SessionDep, actor: OperatorActor
) -> CapCertificateOut:
    """From then on every CAP message of the agency must carry an enveloped XML-DSig
    signature (RSA or ECDSA with SHA-2) that verifies with this certificate's key; the
    certificate is trusted as registered (pinned), not through a chain."""
    service.set_certificate(session, agency_id=agency_id, pem=data.certificate, actor=actor)
    return CapCertificateOut.from_certificate(
        agency_id, signatures.read_certificate(data.certificate)
    )


@router.delete(
    "/v1/operator/agencies/{agency_id}/cap-certificate",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404),
    dependencies=[AdminOnly],
    summary="Remove an agency's CAP certificate: its messages need no signature (admins)",
)
def remove_cap_certificate(
    agency_id: uuid.UUID, session: SessionDep, actor: OperatorActor
) -> Response:
    service.set_certificate(session, agency_id=agency_id, pem=None, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/v1/cap/signing-certificate",
    response_class=Response,
    responses=_xml(PEM_MEDIA_TYPE, "hexcast's CAP signing certificate (PEM)"),
    summary="The certificate that verifies the CAP alerts hexcast publishes (public)",
)
def signing_certificate() -> Response:
    """Every CAP alert hexcast serves, alone or inside the Atom feed, carries an enveloped
    XML-DSig signature made with this certificate's key."""
    return Response(signatures.signing_identity().cert_pem, media_type=PEM_MEDIA_TYPE)
