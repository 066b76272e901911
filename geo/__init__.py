"""Target areas and recipient selection (H3 covers, PostGIS queries); no HTTP, no FCM."""
