"""One module per resource; ``jobhub.api.app`` mounts their routers."""
