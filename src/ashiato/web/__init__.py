"""The local web UI (``ashiato serve``): FastAPI routes in app.py, reads in store.py."""
