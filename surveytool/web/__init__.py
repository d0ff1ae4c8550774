"""The local web app (FastAPI, server-rendered jinja2): self-assessment pages."""
