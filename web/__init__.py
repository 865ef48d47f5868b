"""The web app: FastAPI with server-rendered Jinja2 pages and a JSON API, a thin adapter over
the service layer. Interface text is zh-CN first, English switchable, through Babel catalogs.

Importing this package starts nothing and opens no socket: `web.app.create_app` builds the app."""
