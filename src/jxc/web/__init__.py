"""The web server: the JSON API under /api and the server-rendered UI, both thin layers over
the services (no business rule in a route or a template)."""
