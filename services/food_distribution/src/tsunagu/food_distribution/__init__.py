"""Food distribution: parcel stock, eligibility and handouts at each venue's food desk."""

from tsunagu.shared.services import Service

#: How this service registers itself with the platform (entry point ``tsunagu.services``).
SERVICE = Service(name="food_distribution", package="tsunagu.food_distribution", port=8003)
