"""From runs to answers: tidy tables, intervals and tests, the claims' verdicts, the ledger."""
