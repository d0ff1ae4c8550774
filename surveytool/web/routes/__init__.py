"""The routers, one per area; the app factory includes each (see :data:`ROUTERS`)."""
