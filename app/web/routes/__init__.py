"""The console's areas, one router each, in the order the app includes them."""

from . import audit, board, documents, inbox, indicators, items, manage, messages, review, signin, timeline

ROUTERS = [signin.router, board.router, inbox.router, items.router, review.router, manage.router, indicators.router,
           documents.router, timeline.router, audit.router, messages.router]
