"""The FastAPI app: pages, the JSON API and the websocket."""
