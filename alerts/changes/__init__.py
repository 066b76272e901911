"""Changes to approved Actual notices that wait for a second person."""
