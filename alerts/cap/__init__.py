"""CAP: OASIS CAP 1.2 in and out, and the Atom feed of active notices."""
