"""The Flask web app: the service desk, city staff and NGOs use foerderdesk through it."""

from webui.app import create_app

__all__ = ["create_app"]
