"""Food distribution: parcel stock, eligibility and handouts at each venue's food desk."""
