"""Accounts: operators, their logins and roles; agencies and their API keys."""
