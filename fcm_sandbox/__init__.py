"""A local stand-in for FCM HTTP v1 and Google's OAuth token endpoint.

The stock firebase-admin SDK sends to it unchanged (see notifier.firebase.make_firebase_app), so
dev, tests and benchmarks exercise the real client code path without reaching Google.
"""

from fcm_sandbox.app import create_sandbox
from fcm_sandbox.credentials import write_service_account

__all__ = ["create_sandbox", "write_service_account"]
