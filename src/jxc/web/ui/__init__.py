"""The web pages: Jinja2 templates, HTMX for partial updates, zh-CN first."""
