"""Pure food-desk rules: eligibility, the stock ledger, handout checks and the event report."""
