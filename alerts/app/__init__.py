"""The reference in-app client: a small web app that shows what an app user sees."""
