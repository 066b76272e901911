"""Devices: app installs, their last known location and the sightings they send."""
