"""The local web app (FastAPI, server-rendered jinja2 forms that work without JavaScript).

``app.create_app`` assembles it; ``routes/`` holds one router per area (self-assessment, saved
results, clinician login, clients, links, the client's questionnaire); ``deps`` the dependencies
(state, database sessions, current clinician, the app-wide CSRF check); ``forms`` the
questionnaire form helpers both questionnaire flows share; ``pages`` rendering and refusals;
``security`` the middleware; ``server`` ``surveytool serve``.
"""
