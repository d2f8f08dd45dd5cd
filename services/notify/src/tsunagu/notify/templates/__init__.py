"""Message templates for staff and residents, and the function that renders them."""

from tsunagu.notify.templates.rendering import (
    RESIDENT_TEMPLATES,
    STAFF_TEMPLATES,
    RenderedMessage,
    UnknownTemplate,
    available_languages,
    render,
    render_letter,
)

__all__ = [
    "RESIDENT_TEMPLATES",
    "STAFF_TEMPLATES",
    "RenderedMessage",
    "UnknownTemplate",
    "available_languages",
    "render",
    "render_letter",
]
