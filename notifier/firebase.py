"""firebase-admin set up from settings, pointed at Google's FCM or at the local sandbox."""

import firebase_admin
import requests.adapters
from firebase_admin import _http_client, credentials, messaging

GOOGLE_FCM_ENDPOINT = "https://fcm.googleapis.com"


def fcm_send_url(endpoint: str, project_id: str) -> str:
    """FCM HTTP v1's `messages:send` URL for `project_id` at `endpoint` (Google's or the
    sandbox's)."""
    return f"{endpoint.rstrip('/')}/v1/projects/{project_id}/messages:send"


def make_firebase_app(
    *, project_id: str, credentials_file: str | None, endpoint: str, name: str = "hexcast"
) -> firebase_admin.App:
    """Return the named firebase-admin app, created once per process.

    firebase-admin has no setting for the FCM base URL, so the messaging service's URL is
    re-pointed here when `endpoint` is not Google's; the credential's own `token_uri` decides
    where the OAuth token exchange goes. With real credentials and the default endpoint this
    is the stock SDK; the sandbox gets the same connection pool and retry policy Google's URL
    gets.
    """
    try:
        return firebase_admin.get_app(name)
    except ValueError:
        pass
    cred = (
        credentials.Certificate(credentials_file)
        if credentials_file
        else credentials.ApplicationDefault()
    )
    app = firebase_admin.initialize_app(cred, {"projectId": project_id}, name=name)
    base = endpoint.rstrip("/")
    if base != GOOGLE_FCM_ENDPOINT:
        service = messaging._get_messaging_service(app)
        service._fcm_url = fcm_send_url(base, project_id)
        service._client.session.mount(
            base,
            requests.adapters.HTTPAdapter(
                pool_connections=100,
                pool_maxsize=100,
                max_retries=_http_client.DEFAULT_RETRY_CONFIG,
            ),
        )
    return app
